"""Who is an inspector: the one scoping helper of the inspector space.

The role is granted and revoked by management commands (grant_inspector, revoke_inspector),
and optionally by the identity provider: when settings.CLAO_SAML_ATTR_INSPECTOR_OFFICE names
an attribute, a login carrying it grants the role for that office, and a login without it
revokes a role the identity provider had granted (never one granted by a command).
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Person
from accounts.signals import idp_attributes_received
from checkins.models import Registration

from .models import Inspector


def active_role(person) -> Inspector | None:
    """The person's inspector role in force, or None (anonymous people have none)."""
    if not getattr(person, "is_authenticated", False) or not person.is_active:
        return None
    return Inspector.objects.filter(person=person, revoked_at__isnull=True).first()


def registrations_for(role: Inspector):
    """Every registration an inspector may see: all of them, nationally (the ONSS's remit)."""
    if role is None or role.revoked_at is not None:
        return Registration.objects.none()
    return Registration.objects.all()


def grant(person: Person, office: str, origin: str = Inspector.Origin.COMMAND) -> Inspector:
    """Grants the role (or moves it to `office`): the previous grant is closed, never edited."""
    office = office.strip()
    if not office:
        raise ValueError("an inspector belongs to an office")
    with transaction.atomic():
        current = (
            Inspector.objects.select_for_update()
            .filter(person=person, revoked_at__isnull=True)
            .first()
        )
        if current is not None and current.office == office:
            return current
        if current is not None:
            Inspector.objects.filter(pk=current.pk).update(revoked_at=timezone.now())
        return Inspector.objects.create(person=person, office=office, origin=origin)


def revoke(person: Person, origin: str | None = None) -> bool:
    """Ends the person's role (only one of that origin, if given). True if there was one."""
    roles = Inspector.objects.filter(person=person, revoked_at__isnull=True)
    if origin is not None:
        roles = roles.filter(origin=origin)
    return roles.update(revoked_at=timezone.now()) > 0


def apply_idp_attributes(sender, person: Person, attributes: dict, **kwargs) -> None:
    attribute = settings.CLAO_SAML_ATTR_INSPECTOR_OFFICE
    if not attribute:
        return
    values = attributes.get(attribute) or [""]
    office = (values[0] or "").strip()[:100]
    if office:
        current = active_role(person)
        # A role granted by a command is managed by commands only.
        if current is None or current.origin == Inspector.Origin.IDP:
            grant(person, office, origin=Inspector.Origin.IDP)
    else:
        revoke(person, origin=Inspector.Origin.IDP)


def connect_idp_hook() -> None:
    idp_attributes_received.connect(apply_idp_attributes, dispatch_uid="inspection-idp-role")
