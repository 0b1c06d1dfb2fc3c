import uuid

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import worker_required_keeping_form
from accounts.expiry import pop_pending_form
from employers.ddt import parse_ddt
from employers.models import Employer, WorkDeclaration
from employers.numbers import parse_enterprise_number
from employers.views import START_EMPLOYER
from geo.addresses import learn_street

from .forms import ADDRESS_FIELDS, DDT_UNKNOWN, QuickOutForm, RegistrationForm
from .history import EmployerOption, ddt_options, employer_options, saved_addresses
from .models import OPEN_IN_LIMIT, Registration

QR_DDT = "clao_qr_ddt"


def _get_registration(request: HttpRequest, pk: int) -> Registration:
    """A registration of the logged-in worker, or 404 for anyone else's."""
    return get_object_or_404(request.user.registrations.select_related("employer"), pk=pk)


@login_required
def qr_entry(request: HttpRequest, number: str) -> HttpResponse:
    """The QR code of a DDT poster: the form opens with that number, locked."""
    try:
        number = parse_ddt(number)
    except ValidationError:
        return render(
            request, "checkins/qr_invalid.html", {"number": number, "malformed": True}, status=404
        )
    # A public poster number, not an object the worker owns.
    if not WorkDeclaration.objects.filter(number=number).exists():
        return render(
            request, "checkins/qr_invalid.html", {"number": number, "malformed": False}, status=404
        )
    request.session[QR_DDT] = number
    return redirect("new_registration")


def suggested_kind(last: Registration | None) -> tuple[str, Registration | None]:
    """OUT after an open IN, unless that IN is older than 16 hours (then it is flagged)."""
    if last is None or last.kind == Registration.Kind.OUT:
        return Registration.Kind.IN, None
    if timezone.now() - last.recorded_at > OPEN_IN_LIMIT:
        return Registration.Kind.IN, last
    return Registration.Kind.OUT, None


@worker_required_keeping_form
@require_http_methods(["GET", "POST"])
def new_registration(request: HttpRequest) -> HttpResponse:
    worker = request.user
    # A resubmission (double tap, browser retry) shows the first one's confirmation.
    token = request.POST.get("client_token", "")
    if request.method == "POST" and (stored := _already_stored(request, token)):
        return redirect("registration_detail", pk=stored.pk)
    locked_ddt = request.session.get(QR_DDT, "")
    employers = employer_options(worker)
    start = _start_employer(request)
    if start is not None:
        first = EmployerOption.of(start)
        employers = [first, *[e for e in employers if e.number != first.number]][:5]
    addresses = saved_addresses(worker)
    form_kwargs = {
        "employers": employers,
        "ddt_options": ddt_options(worker),
        "locked_ddt": locked_ddt,
        "saved_addresses": addresses,
    }
    if request.method == "POST":
        form = RegistrationForm(request.POST, **form_kwargs)
        if form.is_valid():
            registration = _store(request, form, locked_ddt)
            request.session.pop(QR_DDT, None)
            return redirect("registration_detail", pk=registration.pk)
    elif (restored := pop_pending_form(request)) is not None:
        form = RegistrationForm(initial=restored, **form_kwargs)
    else:
        initial = _initial(request, start, employers)
        form = RegistrationForm(initial=initial, **form_kwargs)
    last = worker.registrations.first()
    kind, open_in = suggested_kind(last)
    bound = form.data if form.is_bound else form.initial
    context = {
        "form": form,
        "employers": employers,
        "locked_ddt": locked_ddt,
        "suggested_kind": bound.get("kind") or kind,
        "open_in": open_in,
        "last": last,
        "now": timezone.now(),
        "carry_form": "registration-form",
        "typed_employer": _typed_employer(bound.get("enterprise_number", ""), employers),
        # The form's rule: a typed number wins over a ticked employer.
        "typed_wins": bool(
            bound.get("employer") and str(bound.get("enterprise_number", "")).strip()
        )
        and len(employers) > 1,
        "has_gps": bool(bound.get("latitude") and bound.get("longitude")),
        "saved_addresses": [("", form.fields["saved_address"].choices[0][1], None)]
        + [(address.key, address.label, address) for address in addresses],
        # Without saved addresses, or with a typed address to correct, the new-address part
        # starts unfolded.
        "new_address_open": not addresses
        or any(bound.get(name) for name in ("postal_code", "municipality", "street")),
    }
    return render(request, "checkins/new.html", context, status=400 if form.errors else 200)


def _typed_employer(typed: str, employers: list[EmployerOption]) -> EmployerOption | None:
    """The employer of the number in the field, to show its name (no query when proposed)."""
    try:
        number = parse_enterprise_number(typed).number
    except ValidationError:
        return None
    known = next((option for option in employers if option.number == number), None)
    if known is not None and known.name:
        return known
    employer = Employer.objects.filter(number=number).first()
    return EmployerOption.of(employer) if employer else None


def _already_stored(request: HttpRequest, token: str) -> Registration | None:
    try:
        token = uuid.UUID(token)
    except ValueError:
        return None
    return request.user.registrations.filter(client_token=token).first()


def _start_employer(request: HttpRequest) -> Employer | None:
    """The employer of the personalised link the worker came through, if any."""
    start_pk = request.session.get(START_EMPLOYER)
    return Employer.objects.filter(pk=start_pk).first() if start_pk else None


def _initial(request: HttpRequest, start: Employer | None, employers: list[EmployerOption]) -> dict:
    initial = {"client_token": uuid.uuid4()}
    if len(employers) == 1:
        # The manual: one employer known, its number is in the field.
        initial["enterprise_number"] = employers[0].display_number
    elif start is not None:
        initial["employer"] = start.display_number
    # "Vous arrêtez de travailler ?" without a position: the OUT of that IN, pre-filled.
    closing = request.GET.get("out_of")
    if closing and closing.isdigit():
        open_in = request.user.registrations.filter(pk=closing, kind="IN").first()
        if open_in is not None:
            initial |= {
                "kind": Registration.Kind.OUT,
                "enterprise_number": open_in.display_enterprise_number,
                "ddt_choice": open_in.ddt_number or DDT_UNKNOWN,
            }
    return initial


def _store(request: HttpRequest, form: RegistrationForm, locked_ddt: str) -> Registration:
    """Stores exactly one registration per client token."""
    data = form.cleaned_data
    employer = Employer.objects.filter(number=data["enterprise_number"]).first()
    fields = {
        "kind": data["kind"],
        "enterprise_number": data["enterprise_number"],
        "ddt_number": data["ddt"],
        "source": Registration.Source.QR_CODE if locked_ddt else Registration.Source.SMARTPHONE,
        "client_token": data["client_token"],
    }
    if data["has_gps"]:
        place = {
            "latitude": data["latitude"],
            "longitude": data["longitude"],
            "accuracy_m": data.get("accuracy"),
        }
    else:
        place = {key: data[key].strip() for key in ADDRESS_FIELDS}
        learn_street(data["municipality_obj"], place["street"])
    return _create(request, employer, fields | place)


def _create(request: HttpRequest, employer: Employer | None, fields: dict) -> Registration:
    fields |= {"employer": employer, "employer_name": employer.name if employer else ""}
    try:
        with transaction.atomic():
            return request.user.registrations.create(**fields)
    except IntegrityError:
        # A double tap raced us to the same token: show the one that was stored.
        return get_object_or_404(request.user.registrations, client_token=fields["client_token"])


@login_required
@require_POST
def quick_out(request: HttpRequest) -> HttpResponse:
    """ "Vous arrêtez de travailler ?": the OUT of the open IN, at once, with the position."""
    if stored := _already_stored(request, request.POST.get("client_token", "")):
        return redirect("registration_detail", pk=stored.pk)
    open_in = request.user.registrations.first()
    if open_in is None or open_in.kind != Registration.Kind.IN:
        return redirect("home")
    if timezone.now() - open_in.recorded_at > OPEN_IN_LIMIT:
        # A forgotten IN: no OUT at once, the worker checks the form first.
        return redirect(f"{reverse('new_registration')}?out_of={open_in.pk}")
    form = QuickOutForm(request.POST)
    if not form.is_valid():
        # No position (refused, no JavaScript): the form, pre-filled for this OUT.
        return redirect(f"{reverse('new_registration')}?out_of={open_in.pk}")
    fields = {
        "kind": Registration.Kind.OUT,
        "enterprise_number": open_in.enterprise_number,
        "ddt_number": open_in.ddt_number,
        "source": Registration.Source.SMARTPHONE,
        "client_token": form.cleaned_data["client_token"],
        "latitude": form.cleaned_data["latitude"],
        "longitude": form.cleaned_data["longitude"],
        "accuracy_m": form.cleaned_data["accuracy"],
    }
    registration = _create(request, open_in.employer, fields)
    return redirect("registration_detail", pk=registration.pk)


@login_required
def registration_detail(request: HttpRequest, pk: int) -> HttpResponse:
    registration = _get_registration(request, pk)
    previous = (
        request.user.registrations.filter(recorded_at__lt=registration.recorded_at)
        .order_by("-recorded_at")
        .first()
    )
    context = {
        "registration": registration,
        "previous": previous,
        "unchecked_number": not parse_enterprise_number(registration.enterprise_number).checked,
    }
    return render(request, "checkins/confirmation.html", context)


def help_page(request: HttpRequest) -> HttpResponse:
    return render(request, "checkins/help.html")
