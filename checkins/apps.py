from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from clao.dbroles import connect_post_migrate


class CheckinsConfig(AppConfig):
    name = "checkins"
    verbose_name = _("Registrations")

    def ready(self) -> None:
        # After every `migrate`: the application's role gets its privileges on new tables.
        connect_post_migrate(self)
        # The system check that warns when the months ahead run out.
        from . import partitions  # noqa: F401
