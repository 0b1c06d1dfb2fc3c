"""Granting and revoking access to an enterprise's space (the one write path for mandates).

Refusals are `MandateRefused(code, message)` with stable codes: invalid_niss, invalid_role,
already_granted, last_access_manager.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import Person
from accounts.niss import compact_niss, validate_niss

from .models import Employer, Mandate


class MandateRefused(Exception):
    def __init__(self, code: str, message: str | Promise) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def person_by_niss(niss: str) -> Person:
    """The person with that NISS/BIS number, created if they never logged in yet (their first
    login through the identity provider finds them)."""
    try:
        validate_niss(niss)
    except ValidationError as exc:
        raise MandateRefused("invalid_niss", exc.messages[0]) from exc
    number = compact_niss(niss)
    person = Person.objects.filter(niss=number).first()
    return person or Person.objects.create_user(number)


def grant(*, employer: Employer, niss: str, role: str, granted_by: Person | None) -> Mandate:
    """Gives `niss` access to the enterprise's space with `role`.

    `granted_by` is None only for the first access manager (the management command)."""
    if role not in Mandate.Role.values:
        raise MandateRefused("invalid_role", _("Choose a role: access manager or user."))
    person = person_by_niss(niss)
    try:
        with transaction.atomic():
            return Mandate.objects.create(
                person=person, employer=employer, role=role, granted_by=granted_by
            )
    except IntegrityError:
        raise MandateRefused(
            "already_granted",
            _("This person already has access to this enterprise. Revoke it first to change it."),
        ) from None


def revoke(*, mandate: Mandate, revoked_by: Person) -> Mandate:
    """Ends a mandate. The last access manager of an enterprise cannot be revoked: nobody
    could grant access any more."""
    with transaction.atomic():
        # Serialises two managers revoking each other at once.
        managers = list(
            Mandate.objects.active()
            .select_for_update()
            .filter(employer_id=mandate.employer_id, role=Mandate.Role.ACCESS_MANAGER)
        )
        if mandate.is_access_manager and [m.pk for m in managers] == [mandate.pk]:
            raise MandateRefused(
                "last_access_manager",
                _(
                    "This is the last access manager of the enterprise: grant the role to "
                    "someone else first."
                ),
            )
        mandate.revoked_at = timezone.now()
        mandate.revoked_by = revoked_by
        mandate.save(update_fields=["revoked_at", "revoked_by"])
    return mandate
