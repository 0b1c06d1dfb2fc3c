from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from employers.ddt import DDT_PATTERN, validate_ddt
from employers.models import Employer
from employers.numbers import format_enterprise_number
from geo.addresses import format_address

from .rules import reached_late
from .windows import horizon


class AppendOnlyError(Exception):
    """A registration is a legal record: once stored it is never changed or removed."""


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """Local midnight to local midnight in Europe/Brussels: 23 hours in spring, 25 in autumn."""
    tz = timezone.get_default_timezone()
    return (
        datetime.combine(day, time.min, tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz),
    )


class RegistrationQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("registrations cannot be updated")

    def delete(self):
        raise AppendOnlyError("registrations cannot be deleted")

    def records(self):
        """Registrations of work, without the ONSS's corrections (stored as registrations too)."""
        return self.filter(corrects__isnull=True)

    def in_force(self, since=None, until=None):
        """Records that no correction has cancelled: what the open-IN rule looks at.

        `since` and `until` bound where cancellations are looked for: a cancellation is stored
        after what it cancels, so from the oldest record asked for to the horizon
        (checkins/partitions.py); on PostgreSQL only those months are then read."""
        if since is None and until is None:
            return self.records().exclude(
                corrections__correction_kind=Registration.CorrectionKind.CANCEL
            )
        cancellations = corrections_of_outer(since, until).filter(
            correction_kind=Registration.CorrectionKind.CANCEL
        )
        return self.records().exclude(models.Exists(cancellations))

    def on_local_day(self, day: date):
        """Registrations of one day in Europe/Brussels (23 or 25 hours on DST days)."""
        start, end = local_day_bounds(day)
        return self.filter(recorded_at__gte=start, recorded_at__lt=end)


class Registration(models.Model):
    class Kind(models.TextChoices):
        IN = "IN", "IN"
        OUT = "OUT", "OUT"

    class Source(models.TextChoices):
        SMARTPHONE = "smartphone", _("smartphone")
        QR_CODE = "qr", _("QR code")
        BADGE_READER = "badge", _("badge reader")
        EMPLOYER_APP = "employer", _("employer application")
        ONSS_APP = "onss", _("ONSS application")

    class CorrectionKind(models.TextChoices):
        CORRECT = "correct", _("correction")
        CANCEL = "cancel", _("cancellation")

    class CorrectionReason(models.TextChoices):
        WRONG_EMPLOYER = "employer", _("wrong employer")
        WRONG_PLACE = "place", _("wrong place of work")
        WRONG_DDT = "ddt", _("wrong declaration number")
        WRONG_KIND = "kind", _("IN instead of OUT or the reverse")
        NOT_WORKED = "not_worked", _("no work was done")
        DUPLICATE = "duplicate", _("registered twice")
        OTHER = "other", _("other reason")

    # No index of its own for the foreign keys below: each is served by an index of Meta that
    # starts with it (one index less to maintain at every check-in).
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="registrations",
        verbose_name=_("worker"),
        db_index=False,
    )
    kind = models.CharField(pgettext_lazy("registration", "type"), max_length=3, choices=Kind)
    # Always the server's clock when the registration is received, never the browser's: the
    # database's (the INSERT statement's time) when the application connects with its own role,
    # which may not supply it; only the owner's role loads history with its own times
    # (docs/security.md). Read back with RETURNING.
    recorded_at = models.DateTimeField(_("date and time"), db_default=Now(), editable=False)
    # As entered: 10 digits for Belgium, the prefixed VAT number for a foreign employer.
    enterprise_number = models.CharField(_("enterprise number"), max_length=20)
    employer = models.ForeignKey(
        Employer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="registrations",
        verbose_name=_("employer"),
    )
    # The name as known when the registration was made, kept even if the employer is renamed.
    employer_name = models.CharField(_("employer name"), max_length=200, blank=True)
    # Empty means the worker chose "not known".
    ddt_number = models.CharField(
        _("declaration number"), max_length=13, blank=True, validators=[validate_ddt]
    )
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    accuracy_m = models.FloatField(_("accuracy (metres)"), null=True, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=4, blank=True)
    municipality = models.CharField(_("municipality"), max_length=100, blank=True)
    street = models.CharField(_("street"), max_length=200, blank=True)
    house_number = models.CharField(_("number"), max_length=10, blank=True)
    box = models.CharField(pgettext_lazy("postal address", "box"), max_length=10, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source)
    # Idempotency: the sender's key for this registration (the form's token, a badge reader's
    # clientReference), unique within its scope (one person, or one device), so that another
    # sender's use of the same value can never block or capture this one.
    key_scope = models.CharField(_("key scope"), max_length=40)
    idempotency_key = models.CharField(_("submission key"), max_length=100)
    # Who acted when it was not the worker: an employer's staff member, an inspector.
    acted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="registrations_made_for_others",
        verbose_name=_("registered by"),
        db_index=False,
    )
    reason = models.TextField(_("reason"), blank=True)
    # Sent by a badge reader or time-keeping software (api.Device): the device, and its clock's
    # time of the swipe. recorded_at stays the server's time of receipt.
    device = models.ForeignKey(
        "api.Device",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="registrations",
        verbose_name=_("device"),
        db_index=False,
    )
    swiped_at = models.DateTimeField(_("time of the swipe"), null=True, blank=True)
    # The tamper-evident chain (checkins/chain.py): the hash of the worker's previous
    # registration, and this one's hash over it and its own content. Set by the database's
    # trigger on PostgreSQL, by register() elsewhere.
    chain_previous = models.CharField(
        _("previous registration's hash"),
        max_length=64,
        blank=True,
        db_default="",
        editable=False,
    )
    chain_hash = models.CharField(
        _("registration hash"), max_length=64, blank=True, db_default="", editable=False
    )
    # A correction (by the ONSS) is a registration of its own that refers to the one it
    # corrects or cancels; that one is never changed. No database constraint on the link: the
    # table may be partitioned by month, and the link crosses partitions.
    corrects = models.ForeignKey(
        "self",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="corrections",
        verbose_name=_("corrects"),
        db_index=False,
    )
    correction_kind = models.CharField(
        _("kind of correction"), max_length=7, choices=CorrectionKind, blank=True, db_default=""
    )
    correction_reason = models.CharField(
        _("reason for the correction"),
        max_length=10,
        choices=CorrectionReason,
        blank=True,
        db_default="",
    )

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        ordering = ["-recorded_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["key_scope", "idempotency_key"], name="registration_key_unique"
            ),
            models.CheckConstraint(
                condition=(
                    Q(latitude__isnull=False, longitude__isnull=False, postal_code="")
                    | Q(latitude__isnull=True, longitude__isnull=True)
                    & ~Q(postal_code="")
                    & ~Q(municipality="")
                    & ~Q(street="")
                ),
                name="registration_place_gps_or_address",
            ),
            models.CheckConstraint(
                condition=Q(ddt_number="") | Q(ddt_number__regex=rf"^{DDT_PATTERN}$"),
                name="registration_ddt_format",
            ),
            models.CheckConstraint(
                condition=Q(corrects__isnull=True, correction_kind="", correction_reason="")
                | Q(corrects__isnull=False) & ~Q(correction_kind="") & ~Q(correction_reason=""),
                name="registration_correction_complete",
            ),
        ]
        indexes = [
            # Serves "this worker's registrations of one local day" (a recorded_at range)
            # and "this worker's latest registration".
            models.Index(fields=["worker", "-recorded_at"], name="registration_worker_time"),
            # Serves a device's reconciliation: what it stored between two times. Only rows of
            # a device (most come from phones), as the two partial indexes below.
            models.Index(
                fields=["device", "recorded_at"],
                name="registration_device_time",
                condition=Q(device__isnull=False),
            ),
            # What a person registered for others (employer staff, inspectors).
            models.Index(
                fields=["acted_by"],
                name="registration_acted_by",
                condition=Q(acted_by__isnull=False),
            ),
            # The inspectors' searches: each criterion with a time range, newest first.
            models.Index(fields=["-recorded_at"], name="registration_time"),
            models.Index(
                fields=["enterprise_number", "-recorded_at"], name="registration_number_time"
            ),
            models.Index(
                fields=["ddt_number", "-recorded_at"],
                name="registration_ddt_time",
                condition=~Q(ddt_number=""),
            ),
            models.Index(
                fields=["postal_code", "-recorded_at"],
                name="registration_postcode_time",
                condition=~Q(postal_code=""),
            ),
            models.Index(fields=["source", "-recorded_at"], name="registration_source_time"),
            # The corrections of the registrations shown (and "is it cancelled?").
            models.Index(
                fields=["corrects"],
                name="registration_corrects",
                condition=Q(corrects__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.recorded_at:%Y-%m-%d %H:%M} {self.enterprise_number}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("registrations cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("registrations cannot be deleted")

    def clean(self) -> None:
        has_gps = self.latitude is not None and self.longitude is not None
        has_address = bool(self.postal_code and self.municipality and self.street)
        if has_gps == has_address:
            raise ValidationError(
                _("Give the place of work: your GPS position or an address."), code="place"
            )

    def get_source_display(self) -> str:
        # Django's, without building the dict of choices again at every call (every card of
        # a list shows it).
        return force_str(SOURCE_LABELS.get(self.source, self.source), strings_only=True)

    @property
    def display_enterprise_number(self) -> str:
        return format_enterprise_number(self.enterprise_number)

    @property
    def address(self) -> str:
        """The free address as the manual writes it (empty with a GPS position)."""
        if not self.postal_code:
            return ""
        return format_address(
            self.street, self.house_number, self.box, self.postal_code, self.municipality
        )

    @property
    def has_gps(self) -> bool:
        return self.latitude is not None

    @property
    def reached_late(self) -> bool:
        return reached_late(self.swiped_at, self.recorded_at)


SOURCE_LABELS = dict(Registration.Source.choices)


class RegistrationChainHead(models.Model):
    """The hash of each worker's latest registration: where the next one links to.

    Written only by the registrations' insert (the database's trigger as the owner; register()
    on SQLite); the application's role may only read it. The verification also compares it
    with the worker's last registration, so a removed last registration shows too.
    """

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="+",
        verbose_name=_("worker"),
    )
    head_hash = models.CharField(_("registration hash"), max_length=64, blank=True)
    head_id = models.BigIntegerField(_("registration"), default=0)

    class Meta:
        verbose_name = _("chain head")
        verbose_name_plural = _("chain heads")

    def __str__(self) -> str:
        return f"{self.worker_id}: {self.head_hash}"


def corrections_of_outer(since=None, until=None) -> models.QuerySet:
    """The corrections of the outer query's registration (`OuterRef("pk")`), looked for in
    [since, until) when given: a correction is stored after what it corrects, so from the
    oldest registration asked about to the horizon (on PostgreSQL, only those months)."""
    corrections = Registration.objects.filter(corrects=models.OuterRef("pk"))
    if since is not None:
        corrections = corrections.filter(recorded_at__gte=since)
    if until is not None:
        corrections = corrections.filter(recorded_at__lt=until)
    return corrections


def attach_corrections(registrations: list["Registration"]) -> list["Registration"]:
    """Gives each registration its corrections (oldest first, `.corrections.all()`) and sets
    `corrected` and `cancelled`, with one query through the index of corrections by these ids.

    Not an EXISTS per row in the query of a long list: for a search over a year at 10 million
    rows PostgreSQL planned it as one hashed scan of the whole table (2 s, docs/benchmarks.md).
    """
    by_id = {registration.pk: registration for registration in registrations}
    found: dict[int, list[Registration]] = {pk: [] for pk in by_id}
    if by_id:
        # A correction is stored after what it corrects: only the months from the oldest of
        # these to now are read (checkins/partitions.py).
        corrections = (
            Registration.objects.filter(
                corrects_id__in=list(by_id),
                recorded_at__gte=min(r.recorded_at for r in registrations),
                recorded_at__lt=horizon(),
            )
            .select_related("worker", "employer", "acted_by")
            .order_by("recorded_at", "pk")
        )
        for correction in corrections:
            found[correction.corrects_id].append(correction)
    for pk, registration in by_id.items():
        set_corrections(registration, found[pk])
        registration.corrected = bool(found[pk])
        registration.cancelled = any(
            c.correction_kind == Registration.CorrectionKind.CANCEL for c in found[pk]
        )
    return registrations


def set_corrections(registration: "Registration", corrections: list["Registration"]) -> None:
    """Gives `registration.corrections.all()` these rows, evaluated as prefetch_related leaves
    them: a card asking for its corrections runs no query (and compiles none)."""
    if corrections:
        # A further filter() on it still queries the table correctly.
        queryset = Registration.objects.filter(corrects_id=registration.pk).order_by(
            "recorded_at", "pk"
        )
    else:
        # None to find: one shared empty queryset, built once (a day list asks on every card).
        queryset = _NO_CORRECTIONS
    queryset._result_cache = corrections
    queryset._prefetch_done = True
    registration._prefetched_objects_cache = {
        **getattr(registration, "_prefetched_objects_cache", {}),
        "corrections": queryset,
    }


_NO_CORRECTIONS = Registration.objects.none()


class RegistrationKey(models.Model):
    """Which registration holds each idempotency key, across every month.

    On PostgreSQL registrations are partitioned by month and a unique constraint there cannot
    span months: this table's primary key keeps one registration per (key_scope,
    idempotency_key), written by the registrations' insert trigger as the owner (checkins
    migration 0011), read to find a key's registration in its one partition. The retention
    removes the keys of the months it drops. Unused on SQLite (the registration's own unique
    constraint suffices there).
    """

    pk = models.CompositePrimaryKey("key_scope", "idempotency_key")
    key_scope = models.CharField(_("key scope"), max_length=40)
    idempotency_key = models.CharField(_("submission key"), max_length=100)
    registration_id = models.BigIntegerField(_("registration"))
    recorded_at = models.DateTimeField(_("date and time"))

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        indexes = [models.Index(fields=["registration_id"], name="registrationkey_registration")]

    def __str__(self) -> str:
        return f"{self.key_scope} {self.idempotency_key}: {self.registration_id}"


class FirstRegistration(models.Model):
    """Per worker, a time none of their registrations is older than: their first one, moved
    forward by the retention. Written only by the registrations' insert trigger (checkins
    migration 0011); read when a window of recent months falls short, to look only in the
    months that hold the worker's history (checkins/partitions.py). Unused on SQLite."""

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="+",
        verbose_name=_("worker"),
    )
    recorded_at = models.DateTimeField(_("date and time"))
    # The same for their registrations at an address (the form's saved addresses): None when
    # they have none.
    first_address_at = models.DateTimeField(_("first at an address"), null=True)

    class Meta:
        verbose_name = _("first registration")
        verbose_name_plural = _("first registrations")

    def __str__(self) -> str:
        return f"{self.worker_id}: {self.recorded_at:%Y-%m-%d %H:%M}"


class ChainCut(models.Model):
    """Where a worker's chain starts after the retention dropped its oldest months: the hash
    of the last registration dropped. Written only by the retention's database function
    (`clao_drop_expired_partitions`, as the owner); verifyregistrations starts from it."""

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="+",
        verbose_name=_("worker"),
    )
    hash = models.CharField(_("registration hash"), max_length=64)
    dropped_before = models.DateTimeField(_("dropped before"))

    class Meta:
        verbose_name = _("chain cut")
        verbose_name_plural = _("chain cuts")

    def __str__(self) -> str:
        return f"{self.worker_id}: {self.hash}"
