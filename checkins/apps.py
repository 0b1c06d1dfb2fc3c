from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from clao.dbroles import connect_post_migrate
from clao.prepared import install_functions


class CheckinsConfig(AppConfig):
    name = "checkins"
    verbose_name = _("Registrations")

    def ready(self) -> None:
        # After every `migrate`: the application's role gets its privileges on new tables.
        connect_post_migrate(self)
        # And the prepared queries' functions in their current version (clao/prepared.py).
        post_migrate.connect(install_functions, sender=self, dispatch_uid="clao.prepared")
        # The system check that warns when the months ahead run out.
        from . import partitions  # noqa: F401
