"""Who may see what in the employer space: everything is read through a person's mandates.

Every view and query of the employer space goes through these functions (like the worker
pages go through `request.user.registrations`): an enterprise, a DDT, a mandate or a
registration of an enterprise the person holds no active mandate for is "not found" (404),
never "forbidden", so that ids of others reveal nothing.
"""

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import Person
from api.models import Device
from checkins.models import Registration

from .models import Employer, LinkSending, Mandate, WorkDeclaration


def enterprises_of(person: Person) -> QuerySet[Employer]:
    """The enterprises the person holds an active mandate for."""
    return Employer.objects.filter(
        mandates__person=person, mandates__revoked_at__isnull=True
    ).order_by("name", "pk")


def managed_enterprises_of(person: Person) -> QuerySet[Employer]:
    """The enterprises the person is an active access manager of."""
    return Employer.objects.filter(
        mandates__person=person,
        mandates__revoked_at__isnull=True,
        mandates__role=Mandate.Role.ACCESS_MANAGER,
    ).order_by("name", "pk")


def mandate_of(person: Person, enterprise_id) -> Mandate:
    """The person's active mandate for that enterprise, or 404 (also for a malformed id)."""
    try:
        enterprise_id = int(enterprise_id)
    except (TypeError, ValueError):
        raise Http404("no such enterprise") from None
    mandate = (
        Mandate.objects.active()
        .select_related("employer")
        .filter(person=person, employer_id=enterprise_id)
        .first()
    )
    if mandate is None:
        raise Http404("no such enterprise")
    return mandate


def get_enterprise_or_404(person: Person, enterprise_id) -> Employer:
    return mandate_of(person, enterprise_id).employer


def managed_mandate_or_404(person: Person, enterprise_id) -> Mandate:
    """The person's mandate if it makes them an access manager of the enterprise, else 404."""
    mandate = mandate_of(person, enterprise_id)
    if not mandate.is_access_manager:
        raise Http404("not an access manager of this enterprise")
    return mandate


def declarations_of(enterprise: Employer) -> QuerySet[WorkDeclaration]:
    return enterprise.work_declarations.order_by("-pk")


def get_declaration_or_404(enterprise: Employer, number: str) -> WorkDeclaration:
    declaration = declarations_of(enterprise).filter(number=str(number).upper()).first()
    if declaration is None:
        raise Http404("no such declaration of this enterprise")
    return declaration


def mandates_of(enterprise: Employer) -> QuerySet[Mandate]:
    return enterprise.mandates.active().select_related("person", "granted_by").order_by("pk")


def get_mandate_or_404(enterprise: Employer, mandate_id) -> Mandate:
    try:
        mandate_id = int(mandate_id)
    except (TypeError, ValueError):
        raise Http404("no such mandate") from None
    mandate = mandates_of(enterprise).filter(pk=mandate_id).first()
    if mandate is None:
        raise Http404("no such mandate")
    return mandate


def sendings_of(enterprise: Employer) -> QuerySet[LinkSending]:
    return enterprise.link_sendings.order_by("-pk")


def get_sending_or_404(enterprise: Employer, sending_id) -> LinkSending:
    try:
        sending_id = int(sending_id)
    except (TypeError, ValueError):
        raise Http404("no such sending") from None
    sending = sendings_of(enterprise).filter(pk=sending_id).first()
    if sending is None:
        raise Http404("no such sending")
    return sending


def registrations_visible_to(person: Person, enterprise: Employer):
    """Registrations the enterprise's staff may see: those made for the enterprise (its own
    workers), and those of anyone (subcontractors' workers) at the sites of its DDTs."""
    # The mandate is checked here too, so that no caller can skip it.
    if not enterprises_of(person).filter(pk=enterprise.pk).exists():
        raise Http404("no such enterprise")
    numbers = WorkDeclaration.objects.filter(employer=enterprise).values("number")
    return Registration.objects.filter(
        Q(enterprise_number=enterprise.number) | Q(ddt_number__in=numbers)
    ).select_related("worker", "acted_by")


def devices_of(person: Person, enterprise: Employer) -> QuerySet[Device]:
    """The badge-reader credentials the enterprise owns (revoked ones too), for its staff."""
    # The mandate is checked here too, so that no caller can skip it.
    if not enterprises_of(person).filter(pk=enterprise.pk).exists():
        raise Http404("no such enterprise")
    return (
        Device.objects.filter(owner=enterprise)
        .prefetch_related("may_send_for")
        .order_by("revoked_at", "label", "pk")
    )


def get_device_or_404(person: Person, enterprise: Employer, pk) -> Device:
    """A device of the enterprise; 404 for a device of another enterprise or a malformed id."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("no such device") from None
    device = devices_of(person, enterprise).filter(pk=pk).first()
    if device is None:
        raise Http404("no such device")
    return device
