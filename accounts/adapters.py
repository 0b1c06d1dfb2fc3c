import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from .models import Person
from .niss import compact_niss
from .saml import social_app
from .signals import idp_attributes_received
from .views import login_refused

logger = logging.getLogger(__name__)
LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # No local accounts: a worker exists once the identity provider has vouched for them.
        return False

    def add_message(self, *args, **kwargs) -> None:
        # allauth's "signed in as <username>" would print the NISS; the header already shows it.
        return None


def _first(attributes: dict, name: str) -> str:
    values = attributes.get(name) or [""]
    return (values[0] or "").strip()


def _language(value: str) -> str:
    code = value.strip().lower()[:2]
    return code if code in LANGUAGE_CODES else ""


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def list_apps(self, request, provider=None, client_id=None):
        app = social_app()
        if provider not in (None, app.provider, app.provider_id):
            return []
        if client_id not in (None, app.client_id):
            return []
        return [app]

    def is_open_for_signup(self, request: HttpRequest, sociallogin) -> bool:
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin) -> None:
        """Matches the person to a Person by NISS, creating it, and refreshes names and language."""
        attributes = sociallogin.account.extra_data
        try:
            niss = compact_niss(_first(attributes, settings.CLAO_SAML_ATTR_NISS))
        except ValidationError:
            logger.warning("SAML login refused: the assertion carries no valid NISS")
            raise ImmediateHttpResponse(login_refused(request, "identity")) from None
        sociallogin.account.uid = niss
        worker = sociallogin.user if sociallogin.is_existing else None
        if worker is None:
            worker = Person.objects.filter(niss=niss).first() or Person(niss=niss)
        worker.first_name = _first(attributes, settings.CLAO_SAML_ATTR_GIVEN_NAME)[:150]
        worker.last_name = _first(attributes, settings.CLAO_SAML_ATTR_SURNAME)[:150]
        worker.idp_language = _language(_first(attributes, settings.CLAO_SAML_ATTR_LANGUAGE))
        if worker.pk is None:
            worker.set_unusable_password()
        worker.save()
        if not sociallogin.is_existing:
            sociallogin.connect(request, worker)
        # Roles other apps read from the IdP (e.g. the inspector's office, inspection/roles.py).
        idp_attributes_received.send(sender=Person, person=worker, attributes=attributes)
