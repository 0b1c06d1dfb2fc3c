import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .ddt import DDT_PATTERN, validate_ddt
from .numbers import MAX_LENGTH, EnterpriseNumber, parse_enterprise_number


def new_link_token() -> str:
    return secrets.token_urlsafe(12)


class Employer(models.Model):
    country = models.CharField(_("country"), max_length=2, default="BE")
    # BE: the 10-digit BCE/KBO number; elsewhere the compact VAT number with its prefix.
    number = models.CharField(_("enterprise number"), max_length=MAX_LENGTH)
    name = models.CharField(_("name"), max_length=200)
    # Names the employer in the personalised link /l/<token>/ it sends to its workers.
    link_token = models.CharField(
        _("personalised link token"), max_length=32, unique=True, default=new_link_token
    )

    class Meta:
        verbose_name = _("employer")
        verbose_name_plural = _("employers")
        constraints = [
            models.UniqueConstraint(fields=["number"], name="employer_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.display_number} - {self.name}"

    def clean(self) -> None:
        parsed = parse_enterprise_number(self.number)
        self.country, self.number = parsed.country, parsed.number

    @property
    def enterprise_number(self) -> EnterpriseNumber:
        return EnterpriseNumber(self.country, self.number, True)

    @property
    def display_number(self) -> str:
        return self.enterprise_number.display


class Contract(models.Model):
    class Kind(models.TextChoices):
        DIMONA = "DIMONA", "DIMONA"
        LIMOSA = "LIMOSA", "LIMOSA"

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="contracts",
        verbose_name=_("worker"),
    )
    employer = models.ForeignKey(
        Employer, on_delete=models.PROTECT, related_name="contracts", verbose_name=_("employer")
    )
    kind = models.CharField(_("kind"), max_length=6, choices=Kind.choices)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="contract_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.worker} - {self.employer}"


class WorkDeclaration(models.Model):
    """A declaration of works (DDT): the site where the employer's workers clean."""

    number = models.CharField(_("declaration number"), max_length=13, validators=[validate_ddt])
    employer = models.ForeignKey(
        Employer,
        on_delete=models.PROTECT,
        related_name="work_declarations",
        verbose_name=_("employer"),
    )
    postal_code = models.CharField(_("postal code"), max_length=4)
    municipality = models.CharField(_("municipality"), max_length=100)
    street = models.CharField(_("street"), max_length=200)
    house_number = models.CharField(_("number"), max_length=10, blank=True)
    box = models.CharField(pgettext_lazy("postal address", "box"), max_length=10, blank=True)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )

    class Meta:
        verbose_name = _("declaration of works")
        verbose_name_plural = _("declarations of works")
        constraints = [
            models.UniqueConstraint(fields=["number"], name="work_declaration_number_unique"),
            models.CheckConstraint(
                condition=Q(number__regex=rf"^{DDT_PATTERN}$"),
                name="work_declaration_number_format",
            ),
        ]

    def __str__(self) -> str:
        return self.number
