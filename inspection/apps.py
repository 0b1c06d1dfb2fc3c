from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionConfig(AppConfig):
    name = "inspection"
    verbose_name = _("ONSS inspection")

    def ready(self) -> None:
        # The optional inspector role sent by the identity provider (inspection/roles.py).
        from . import roles

        roles.connect_idp_hook()
