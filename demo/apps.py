from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DemoConfig(AppConfig):
    """Demo and development code: the development IdP, the demo people, streets and data.

    Installed only with CLAO_DEV_IDP=1 (clao/settings.py); nothing in the product imports it.
    """

    name = "demo"
    verbose_name = "Demo and development identity provider"

    def ready(self) -> None:
        if not settings.DEBUG:
            raise ImproperlyConfigured("The development IdP refuses to run with DEBUG off")
        from accounts import saml

        from . import idp

        # The product asks for its IdP's metadata; with no URL configured, the development
        # IdP of this process answers (computed per call: SITE_ROOT may change in tests).
        saml.local_metadata_source = idp.metadata_xml
