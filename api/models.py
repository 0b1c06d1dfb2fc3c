"""Device credentials: a badge reader or a time-keeping software installation that sends
registrations through the web service (api/views.py), on behalf of one or more employers."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from employers.models import Employer


class DeviceQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class Device(models.Model):
    """One credential: its token is shown once when issued, and only its SHA-256 is kept."""

    # The employer the credential belongs to: it decides what the device may send.
    owner = models.ForeignKey(
        Employer, on_delete=models.PROTECT, related_name="devices", verbose_name=_("employer")
    )
    label = models.CharField(_("label"), max_length=100)
    # The employers whose registrations it may send (the owner is always one of them).
    may_send_for = models.ManyToManyField(
        Employer, related_name="senders", verbose_name=_("may send for")
    )
    # hex SHA-256 of the token: a 32-byte random token needs no salt or slow hash, and a
    # lookup by hash compares nothing secret in Python.
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    # The first characters of the token, so that people can tell their credentials apart.
    token_prefix = models.CharField(_("token prefix"), max_length=12)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = DeviceQuerySet.as_manager()

    class Meta:
        verbose_name = _("device credential")
        verbose_name_plural = _("device credentials")
        ordering = ["owner", "label", "pk"]

    def __str__(self) -> str:
        return f"{self.label} ({self.token_prefix}…)"

    @property
    def key_scope(self) -> str:
        """The idempotency scope of this device's clientReferences (checkins.services)."""
        return f"device:{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
