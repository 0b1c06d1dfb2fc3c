"""An inspector's correction or cancellation of a registration, which itself never changes.

The correction is a new registration (source ONSS application) stored by
checkins.services.register with `corrects=`, so it is idempotent per form token, serialised
with the worker's other writes and, like every registration, part of the worker's chain. The
window after the original and the proof are this module's rules.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from checkins.models import Registration
from checkins.services import Place, Registered, RegistrationRefused, register

from .models import CorrectionProof, Inspector, proof_storage

# The first bytes of the formats accepted as proofs; the browser's content type is not trusted.
SIGNATURES = {
    b"%PDF-": ("application/pdf", "pdf"),
    b"\x89PNG\r\n\x1a\n": ("image/png", "png"),
    b"\xff\xd8\xff": ("image/jpeg", "jpg"),
}


@dataclass(frozen=True)
class Proof:
    content: bytes
    content_type: str
    extension: str
    original_name: str


def read_proof(upload) -> Proof:
    """A PDF, PNG or JPEG of at most CLAO_PROOF_MAX_BYTES, recognised by its content."""
    limit = settings.CLAO_PROOF_MAX_BYTES
    if upload.size > limit:
        raise RegistrationRefused(
            "proof_too_large",
            _("The proof is too large: at most %(size)s MB.") % {"size": limit // (1024 * 1024)},
        )
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise RegistrationRefused(
            "proof_too_large",
            _("The proof is too large: at most %(size)s MB.") % {"size": limit // (1024 * 1024)},
        )
    for signature, (content_type, extension) in SIGNATURES.items():
        if content.startswith(signature):
            return Proof(content, content_type, extension, (upload.name or "")[:200])
    raise RegistrationRefused(
        "proof_type", _("The proof must be a PDF file or an image (PNG or JPEG).")
    )


def correction_deadline(original: Registration):
    return original.recorded_at + timedelta(days=settings.CLAO_CORRECTION_WINDOW_DAYS)


def correct(
    role: Inspector,
    original: Registration,
    *,
    correction_kind: str,
    correction_reason: str,
    reason: str,
    token: str,
    kind: str | None = None,
    enterprise_number: str | None = None,
    ddt_number: str | None = None,
    place: Place | None = None,
    proof: Proof | None = None,
) -> Registered:
    """Stores the correction (once per form token) and its proof.

    A cancellation repeats the original's values; a correction carries the new ones (what is
    not given is the original's). Refusals (RegistrationRefused): outside_window,
    already_cancelled, invalid_correction, and register's own.
    """
    if original.corrects_id is not None:
        raise RegistrationRefused(
            "invalid_correction", _("A correction cannot itself be corrected.")
        )
    now = timezone.now()
    if now > correction_deadline(original):
        raise RegistrationRefused(
            "outside_window",
            _(
                "This registration can no longer be corrected: corrections are accepted "
                "%(days)s days after it."
            )
            % {"days": settings.CLAO_CORRECTION_WINDOW_DAYS},
        )
    cancel = correction_kind == Registration.CorrectionKind.CANCEL
    with transaction.atomic():
        result = register(
            worker=original.worker,
            kind=original.kind if cancel or not kind else kind,
            enterprise_number=original.enterprise_number
            if cancel or not enterprise_number
            else enterprise_number,
            ddt_number=original.ddt_number if cancel or ddt_number is None else ddt_number,
            place=Place.of(original) if cancel or place is None else place,
            source=Registration.Source.ONSS_APP,
            idempotency_key=token,
            acted_by=role.person,
            reason=reason.strip(),
            corrects=original,
            correction_kind=correction_kind,
            correction_reason=correction_reason,
        )
        if result.created and proof is not None:
            _store_proof(role, result.registration, proof)
    return result


def _store_proof(role: Inspector, correction: Registration, proof: Proof) -> None:
    storage = proof_storage()
    # A name of ours: nothing the uploader chose reaches the storage's paths.
    name = storage.save(f"{uuid.uuid4().hex}.{proof.extension}", ContentFile(proof.content))
    try:
        CorrectionProof.objects.create(
            correction=correction,
            file_name=name,
            content_type=proof.content_type,
            size=len(proof.content),
            sha256=hashlib.sha256(proof.content).hexdigest(),
            original_name=proof.original_name,
            uploaded_by=role.person,
        )
    except Exception:
        storage.delete(name)
        raise
