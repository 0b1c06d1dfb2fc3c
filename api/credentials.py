"""Issuing, checking and revoking device credentials: the domain functions that the management
commands (api/management/commands/) and the employer space call; never a view.

A token is 32 random bytes (URL-safe base64, prefixed "clao_"), shown once to whoever issues
it; the database keeps only its SHA-256, so a leaked database gives no usable token.
"""

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from employers.models import Employer

from .models import Device

TOKEN_PREFIX = "clao_"  # noqa: S105 (a marker, not a secret)
# last_used_at is written at most this often per device, not on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def issue_credential(
    owner: Employer, label: str, may_send_for: Iterable[Employer] = (), token: str | None = None
) -> tuple[Device, str]:
    """A new credential of `owner`, allowed to send for the owner and `may_send_for`.

    Returns the device and its plaintext token, which is stored nowhere: show it once.
    `token` is for the demo only (a known token printed by `make run`).
    """
    plaintext = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = Device.objects.create(
        owner=owner,
        label=label.strip()[:100] or owner.name[:100],
        token_hash=hash_token(plaintext),
        token_prefix=plaintext[: len(TOKEN_PREFIX) + 6],
    )
    device.may_send_for.add(owner, *may_send_for)
    return device, plaintext


def revoke_credential(device: Device) -> Device:
    """From now on the token gets 401; what it stored stays (registrations are append-only)."""
    if device.revoked_at is None:
        device.revoked_at = timezone.now()
        device.save(update_fields=["revoked_at"])
    return device


def authenticate_token(token: str) -> Device | None:
    """The active device of this token, or None. Marks it used (at most once a minute)."""
    if not token or len(token) > 200:
        return None
    device = (
        Device.objects.active().select_related("owner").filter(token_hash=hash_token(token)).first()
    )
    if device is None:
        return None
    now = timezone.now()
    if device.last_used_at is None or now - device.last_used_at >= LAST_USED_PRECISION:
        Device.objects.filter(pk=device.pk).update(last_used_at=now)
        device.last_used_at = now
    return device


def allowed_numbers(device: Device) -> set[str]:
    """The enterprise numbers (as stored in Employer.number) the device may send for."""
    return set(device.may_send_for.values_list("number", flat=True))
