import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
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


class MandateQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class Mandate(models.Model):
    """A person's access to an enterprise's space: granted by an access manager, revocable.

    The first access manager of an enterprise is set with `manage.py grant_access_manager`.
    A revoked mandate is kept (who had access, when) and a new one is granted afresh.
    """

    class Role(models.TextChoices):
        ACCESS_MANAGER = "manager", _("access manager")
        USER = "user", _("user")

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="mandates",
        verbose_name=_("person"),
    )
    employer = models.ForeignKey(
        Employer, on_delete=models.PROTECT, related_name="mandates", verbose_name=_("employer")
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    # Empty for the first access manager, set by the management command.
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mandates_granted",
        verbose_name=_("granted by"),
    )
    granted_at = models.DateTimeField(_("granted on"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked on"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mandates_revoked",
        verbose_name=_("revoked by"),
    )

    objects = MandateQuerySet.as_manager()

    class Meta:
        verbose_name = _("mandate")
        verbose_name_plural = _("mandates")
        constraints = [
            # One active mandate per person and enterprise: a role change revokes and grants.
            models.UniqueConstraint(
                fields=["person", "employer"],
                condition=Q(revoked_at__isnull=True),
                name="mandate_one_active_per_person_employer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} - {self.employer} ({self.role})"

    @property
    def is_access_manager(self) -> bool:
        return self.role == self.Role.ACCESS_MANAGER


class RetiredLinkToken(models.Model):
    """A personalised-link token the employer replaced: the old link says so instead of 404."""

    token = models.CharField(_("personalised link token"), max_length=32, unique=True)
    employer = models.ForeignKey(
        Employer,
        on_delete=models.CASCADE,
        related_name="retired_link_tokens",
        verbose_name=_("employer"),
    )
    retired_at = models.DateTimeField(_("replaced on"), default=timezone.now)

    class Meta:
        verbose_name = _("replaced link token")
        verbose_name_plural = _("replaced link tokens")

    def __str__(self) -> str:
        return self.token


class LinkSending(models.Model):
    """One sending of the personalised link to a list of recipients (e-mail and/or SMS): a
    send job whose deliveries are sent a few at a time (employers/links.py).

    The form's key makes a second submission of the same page return this sending, so that
    nothing is sent twice."""

    employer = models.ForeignKey(
        Employer, on_delete=models.PROTECT, related_name="link_sendings", verbose_name=_("employer")
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="link_sendings",
        verbose_name=_("sent by"),
    )
    idempotency_key = models.CharField(_("submission key"), max_length=100)
    created_at = models.DateTimeField(_("date and time"), default=timezone.now)
    link = models.CharField(_("link"), max_length=300)
    # The language of the sender's page: the message's, whoever sends it later.
    language = models.CharField(_("language"), max_length=10, default="fr")

    class Meta:
        verbose_name = _("sending of the link")
        verbose_name_plural = _("sendings of the link")
        constraints = [
            models.UniqueConstraint(
                fields=["sent_by", "idempotency_key"], name="link_sending_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.employer} {self.created_at:%Y-%m-%d %H:%M}"


class LinkDelivery(models.Model):
    """One recipient of a sending, and what became of it."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        SMS = "sms", "SMS"

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    sending = models.ForeignKey(
        LinkSending, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("sending")
    )
    channel = models.CharField(_("channel"), max_length=5, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=254)
    status = models.CharField(
        _("status"), max_length=7, choices=Status.choices, default=Status.PENDING
    )
    # Why the last attempt failed (the backend's answer).
    error = models.CharField(_("error"), max_length=300, blank=True)
    sent_at = models.DateTimeField(_("sent on"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)

    class Meta:
        verbose_name = _("delivery of the link")
        verbose_name_plural = _("deliveries of the link")
        ordering = ["pk"]
        indexes = [
            # The waiting deliveries, found by the pages and by `send_pending_links`.
            models.Index(
                fields=["sending", "id"],
                condition=Q(status="pending"),
                name="link_delivery_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.recipient} {self.status}"
