from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .expiry import mark_authenticated


@receiver(user_logged_in)
def remember_authentication_time(sender, request, user, **kwargs) -> None:
    mark_authenticated(request)
