from django.contrib.auth.signals import user_logged_in
from django.dispatch import Signal, receiver

from .context_processors import remember_spaces
from .expiry import mark_authenticated


@receiver(user_logged_in)
def remember_authentication_time(sender, request, user, **kwargs) -> None:
    mark_authenticated(request)


@receiver(user_logged_in)
def remember_spaces_at_login(sender, request, user, **kwargs) -> None:
    """The header's spaces, read once at login (then every few minutes), not on every page."""
    if request is not None and hasattr(request, "session"):
        remember_spaces(request, user)


# Sent after a SAML login has matched its Person, with the assertion's attributes: other apps
# (the inspector role, employer mandates) read their own attributes without accounts knowing
# them. Receivers run inside the login; an exception refuses it.
idp_attributes_received = Signal()  # sender=Person class, person=..., attributes=...
