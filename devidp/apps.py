from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DevIdpConfig(AppConfig):
    name = "devidp"
    verbose_name = "Development identity provider"

    def ready(self) -> None:
        if not settings.DEBUG:
            raise ImproperlyConfigured("The development IdP refuses to run with DEBUG off")
