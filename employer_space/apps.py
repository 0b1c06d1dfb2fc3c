from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EmployerSpaceConfig(AppConfig):
    name = "employer_space"
    verbose_name = _("Employer space")
