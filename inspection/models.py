"""The ONSS side: who is an inspector, what inspectors looked at, the proofs of corrections.

The corrections themselves are registrations (checkins.Registration with `corrects`), stored
through checkins.services.register like every other registration.
"""

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnlyLogError(Exception):
    """The access log is evidence: an entry is never changed or removed."""


def proof_storage():
    """The "proofs" alias of settings.STORAGES (a private directory by default, or S3...)."""
    return storages["proofs"]


class Inspector(models.Model):
    """The inspector role of a person, for one office, from its grant to its revocation.

    Rows are kept after revocation: who held the role when is part of the record.
    """

    class Origin(models.TextChoices):
        COMMAND = "command", _("management command")
        IDP = "idp", _("identity provider")

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="inspector_roles",
        verbose_name=_("person"),
    )
    office = models.CharField(_("office"), max_length=100)
    origin = models.CharField(_("granted by"), max_length=10, choices=Origin)
    granted_at = models.DateTimeField(_("granted on"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked on"), null=True, blank=True)

    class Meta:
        verbose_name = _("inspector")
        verbose_name_plural = _("inspectors")
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(revoked_at__isnull=True),
                name="inspector_one_active_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} ({self.office})"


class AccessLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyLogError("the access log cannot be changed")

    def delete(self):
        raise AppendOnlyLogError("the access log cannot be changed")


class AppendOnlyLogModel(models.Model):
    """Rows of the access log are written once: Django refuses to change or delete them (and
    the database's trigger refuses it to everyone else, inspection migration 0002)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyLogError("the access log cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyLogError("the access log cannot be changed")


class AccessLog(AppendOnlyLogModel):
    """One search, export or view of a worker's registrations by an inspector."""

    class Action(models.TextChoices):
        SEARCH = "search", _("search")
        EXPORT = "export", _("CSV export")
        WORKER = "worker", _("registrations of a worker")
        REGISTRATION = "registration", _("one registration")
        PROOF = "proof", _("proof of a correction")

    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="inspector_accesses",
        verbose_name=_("inspector"),
    )
    # As it was at the time: the role may move to another office later.
    office = models.CharField(_("office"), max_length=100)
    at = models.DateTimeField(_("date and time"), default=timezone.now, editable=False)
    action = models.CharField(_("action"), max_length=12, choices=Action)
    criteria = models.JSONField(_("criteria"), default=dict)
    result_count = models.PositiveIntegerField(_("number of results"))
    # The count stops at SEARCH_COUNT_LIMIT: a search over a whole year is not counted to the end.
    result_count_capped = models.BooleanField(_("more results than counted"), default=False)

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("access to registrations")
        verbose_name_plural = _("access log")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["inspector", "-at"], name="accesslog_inspector_time")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.office} {self.action} ({self.result_count})"


class AccessedWorker(AppendOnlyLogModel):
    """A worker whose registrations an access showed: what the worker's own page lists."""

    access = models.ForeignKey(AccessLog, on_delete=models.PROTECT, related_name="subjects")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="inspections_undergone"
    )

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("worker concerned by an access")
        verbose_name_plural = _("workers concerned by accesses")
        constraints = [
            models.UniqueConstraint(fields=["worker", "access"], name="accessedworker_unique")
        ]

    def __str__(self) -> str:
        return f"{self.access_id} -> {self.worker_id}"


class CorrectionProof(models.Model):
    """The document an inspector joined to a correction, on the "proofs" storage.

    Never under MEDIA: it is served only by inspection.views.proof, to inspectors.
    """

    # No database constraint: the registrations table may be partitioned by month.
    correction = models.OneToOneField(
        "checkins.Registration",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="proof",
        verbose_name=_("correction"),
    )
    # The name on the "proofs" storage (read through proof_storage(), so that a change of
    # settings.STORAGES applies without touching the rows).
    file_name = models.CharField(_("file on the proofs storage"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=50)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    original_name = models.CharField(_("original file name"), max_length=200)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded on"), default=timezone.now)

    class Meta:
        verbose_name = _("proof")
        verbose_name_plural = _("proofs")

    def __str__(self) -> str:
        return f"{self.content_type} {self.size} B for {self.correction_id}"
