import uuid
from html import escape

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import router
from django.db.models import BigIntegerField, DateTimeField
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import worker_required_keeping_form
from accounts.expiry import form_owner_value, pop_pending_form
from clao.prepared import Prepared, Slot
from clao.ratelimits import limited
from employers.ddt import parse_ddt
from employers.models import Employer, WorkDeclaration
from employers.numbers import parse_enterprise_number
from employers.views import START_EMPLOYER
from geo.addresses import learn_street
from inspection.access import accesses_about

from .forms import ADDRESS_FIELDS, DDT_UNKNOWN, FormOptions, QuickOutForm, RegistrationForm
from .history import (
    EmployerOption,
    SavedAddress,
    ddt_options,
    employer_options,
    recent_registrations,
    saved_addresses,
)
from .models import Registration
from .partitions import by_id, id_under_key, older_windows, stored_at
from .rules import open_in_state
from .services import Place, RegistrationRefused, latest_registration, person_scope, register
from .windows import recent_since

QR_PARAM = "qr"
# ?out_of= is an id of ours: anything longer than a bigint is not one.
MAX_ID_DIGITS = 18
MAX_ID = 2**63 - 1


# The confirmation a check-in leads to, read by queries compiled once (clao/prepared.py).
# Both are read in the months they need only (checkins/partitions.py): the registration at its
# time, read from the key table first; the record before it from the month of a week before.
REGISTRATION_OF_WORKER = Prepared(
    lambda: Registration.objects.filter(
        worker_id=Slot("worker", BigIntegerField()),
        pk=Slot("pk", BigIntegerField()),
        recorded_at=Slot("at", DateTimeField()),
    )[:1],
    function="registration_of_worker",
)


def _records_before(worker, since, moment):
    return (
        Registration.objects.filter(worker_id=worker)
        .records()
        .filter(recorded_at__gte=since, recorded_at__lt=moment)
        .order_by("-recorded_at")[:1]
    )


RECORD_BEFORE = Prepared(
    lambda: _records_before(
        Slot("worker", BigIntegerField()),
        Slot("since", DateTimeField()),
        Slot("moment", DateTimeField()),
    ),
    function="record_before",
)


def _get_registration(request: HttpRequest, pk: int) -> Registration:
    """A registration of the logged-in worker, or 404 for anyone else's."""
    if pk > MAX_ID:
        # No such id (the ORM says so by itself; a bigint parameter would be refused).
        raise Http404
    at = stored_at(pk, router.db_for_read(Registration))
    found = REGISTRATION_OF_WORKER.objects(worker=request.user.pk, pk=pk, at=at) if at else ()
    registration = next(iter(found), None)
    if registration is None:
        raise Http404
    return registration


def _poster_error(request: HttpRequest, number: str) -> HttpResponse | None:
    """Why a DDT number from a QR code cannot lock the form, as a page; None when it can."""
    try:
        parsed = parse_ddt(number)
    except ValidationError:
        context = {"number": number, "malformed": True}
        return render(request, "checkins/qr_invalid.html", context, status=404)
    # A public poster number, not an object the worker owns.
    if not WorkDeclaration.objects.filter(number=parsed).exists():
        context = {"number": parsed, "malformed": False}
        return render(request, "checkins/qr_invalid.html", context, status=404)
    return None


@login_required
def qr_entry(request: HttpRequest, number: str) -> HttpResponse:
    """The QR code of a DDT poster: the form opens with that number, locked.

    The lock lives in the form's address (?qr=), not in the session: it belongs to the form
    reached from the poster, and "New registration" from the list is a form without it."""
    if (error := _poster_error(request, number)) is not None:
        return error
    return redirect(f"{reverse('new_registration')}?{QR_PARAM}={parse_ddt(number)}")


@worker_required_keeping_form
@require_http_methods(["GET", "POST"])
@limited("registration", methods=("POST",))
def new_registration(request: HttpRequest) -> HttpResponse:
    worker = request.user
    locked_ddt = request.GET.get(QR_PARAM, "")
    if locked_ddt:
        if (error := _poster_error(request, locked_ddt)) is not None:
            return error
        locked_ddt = parse_ddt(locked_ddt)
    if request.method == "POST":
        form = RegistrationForm(request.POST, locked_ddt=locked_ddt)
        if form.is_valid():
            try:
                registration = _store(request, form, locked_ddt)
            except RegistrationRefused as refused:
                form.add_error(None, refused.message)
            else:
                return redirect("registration_detail", pk=registration.pk)
        elif (stored := _already_stored(request, request.POST.get("client_token", ""))) is not None:
            # A resubmission of a stored form that no longer validates: show what was stored.
            return redirect("registration_detail", pk=stored)
    start = _start_employer(request)
    recent = recent_registrations(worker)
    options = _options(worker, start, recent)
    if request.method == "POST":
        form.options_from(options)
    elif (restored := pop_pending_form(request)) is not None:
        form = RegistrationForm(initial=restored, options=options, locked_ddt=locked_ddt)
    else:
        initial = _initial(request, start, options.employers)
        form = RegistrationForm(initial=initial, options=options, locked_ddt=locked_ddt)
    last = recent[0] if recent else None
    state = open_in_state(last, timezone.now())
    bound = form.data if form.is_bound else form.initial
    context = {
        "form": form,
        "employers": options.employers,
        "locked_ddt": locked_ddt,
        "suggested_kind": bound.get("kind") or state.suggested_kind,
        "state": state,
        "quick_out_token": uuid.uuid4() if state.is_forgotten else None,
        "last": last,
        "now": timezone.now(),
        "carry_form": "registration-form",
        "form_owner": form_owner_value(worker),
        "typed_employer": _typed_employer(bound.get("enterprise_number", ""), options.employers),
        # The form's rule: a typed number wins over a ticked employer.
        "typed_wins": bool(
            bound.get("employer") and str(bound.get("enterprise_number", "")).strip()
        )
        and len(options.employers) > 1,
        "has_gps": bool(bound.get("latitude") and bound.get("longitude")),
        "saved_address_options": _saved_address_options(
            form.fields["saved_address"].choices[0][1],
            options.saved_addresses,
            form["saved_address"].value(),
        ),
        # Without saved addresses, or with a typed address to correct, the new-address part
        # starts unfolded.
        "new_address_open": not options.saved_addresses
        or any(bound.get(name) for name in ("postal_code", "municipality", "street")),
    }
    return render(request, "checkins/new.html", context, status=400 if form.errors else 200)


def _saved_address_options(
    placeholder: str, addresses: list[SavedAddress], selected: str | None
) -> SafeString:
    """The <option>s of "An address from a previous registration", each address's fields in
    data- attributes for registration.js. Written here rather than in place_field.html: the
    template's loop was a tenth of the form's CPU. Escaped with the standard library's escape
    (Django's escape() is that, marked safe), once per value: format_html() cost a twentieth
    of the form's CPU for ten addresses."""
    blank = " selected" if selected == "" else ""
    options = [f'<option value=""{blank}>{escape(str(placeholder))}</option>']
    for address in addresses:
        fields = address.fields()
        key = address.key
        data = "".join(f' data-{name}="{escape(value)}"' for name, value in fields.items())
        chosen = " selected" if key == selected else ""
        options.append(
            f'<option value="{escape(key)}"{chosen}{data}>{escape(address.label)}</option>'
        )
    return mark_safe("\n".join(options))  # noqa: S308 - every value is escaped above


def _options(worker, start: Employer | None, recent: list[Registration]) -> FormOptions:
    employers = employer_options(worker)
    if start is not None:
        first = EmployerOption.of(start)
        employers = [first, *[e for e in employers if e.number != first.number]][:5]
    return FormOptions(
        employers=employers,
        ddt_numbers=ddt_options(recent),
        saved_addresses=saved_addresses(worker),
    )


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


def _already_stored(request: HttpRequest, token: str) -> int | None:
    """The id of the registration this token already stored (the quick OUT asks on every tap):
    on PostgreSQL from the key table alone, not looked for in every month."""
    try:
        token = str(uuid.UUID(token))
    except ValueError:
        return None
    return id_under_key(person_scope(request.user), token)


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
    closing = request.GET.get("out_of", "")
    if closing.isascii() and closing.isdigit() and len(closing) <= MAX_ID_DIGITS:
        open_in = by_id(request.user.registrations.filter(kind="IN"), int(closing)).first()
        if open_in is not None:
            initial |= {
                "kind": Registration.Kind.OUT,
                "enterprise_number": open_in.display_enterprise_number,
                "ddt_choice": open_in.ddt_number or DDT_UNKNOWN,
            }
    return initial


def _store(request: HttpRequest, form: RegistrationForm, locked_ddt: str) -> Registration:
    data = form.cleaned_data
    if data["has_gps"]:
        place = Place(
            latitude=data["latitude"], longitude=data["longitude"], accuracy_m=data["accuracy"]
        )
    else:
        place = Place(**{key: data[key].strip() for key in ADDRESS_FIELDS})
    result = register(
        worker=request.user,
        kind=data["kind"],
        enterprise_number=data["enterprise_number"],
        ddt_number=data["ddt"],
        place=place,
        source=Registration.Source.QR_CODE if locked_ddt else Registration.Source.SMARTPHONE,
        idempotency_key=str(data["client_token"]),
    )
    if result.created and not data["has_gps"]:
        learn_street(data["municipality_obj"], place.street, request.user)
    return result.registration


@login_required
@require_POST
@limited("quick_out")
def quick_out(request: HttpRequest) -> HttpResponse:
    """ "Vous arrêtez de travailler ?": the OUT of the open (or forgotten) IN, at once."""
    form = QuickOutForm(request.POST)
    if stored := _already_stored(request, request.POST.get("client_token", "")):
        return redirect("registration_detail", pk=stored)
    latest = latest_registration(request.user)
    state = open_in_state(latest, timezone.now())
    shown = form.fields["closes"].to_python_or_none(request.POST.get("closes"))
    if state.registration is None or (shown is not None and shown != state.registration.pk):
        # The IN this page showed is no longer the open one (another tab, another phone
        # closed it): show what came after it rather than store a second OUT.
        ins = request.user.registrations.filter(kind="IN")
        if shown is not None and by_id(ins, shown).exists():
            return redirect("registration_detail", pk=latest.pk)
        return redirect("home")
    open_in = state.registration
    if not form.is_valid():
        # No position (refused, no JavaScript): the form, pre-filled for this OUT.
        return redirect(f"{reverse('new_registration')}?out_of={open_in.pk}")
    try:
        result = register(
            worker=request.user,
            kind=Registration.Kind.OUT,
            enterprise_number=open_in.enterprise_number,
            ddt_number=open_in.ddt_number,
            place=Place(
                latitude=form.cleaned_data["latitude"],
                longitude=form.cleaned_data["longitude"],
                accuracy_m=form.cleaned_data["accuracy"],
            ),
            source=Registration.Source.SMARTPHONE,
            idempotency_key=str(form.cleaned_data["client_token"]),
            closes=open_in,
        )
    except RegistrationRefused as refused:
        # Another tab closed it a moment ago: show that OUT rather than store a second one.
        if refused.registration is not None:
            return redirect("registration_detail", pk=refused.registration.pk)
        return redirect("home")
    return redirect("registration_detail", pk=result.registration.pk)


@login_required
def registration_detail(request: HttpRequest, pk: int) -> HttpResponse:
    registration = _get_registration(request, pk)
    moment = registration.recorded_at
    since = recent_since(moment)
    before = RECORD_BEFORE.objects(worker=request.user.pk, since=since, moment=moment)
    previous = next(iter(before), None)
    if previous is None:
        # Beyond the window: in the older months of the worker's history only.
        using = router.db_for_read(Registration)
        for older, until in older_windows(request.user.pk, since, using):
            if previous := next(iter(_records_before(request.user.pk, older, until)), None):
                break
    context = {
        "registration": registration,
        "previous": previous,
        "unchecked_number": not parse_enterprise_number(registration.enterprise_number).checked,
    }
    return render(request, "checkins/confirmation.html", context)


def help_page(request: HttpRequest) -> HttpResponse:
    return render(request, "checkins/help.html")


@login_required
def inspector_accesses(request: HttpRequest) -> HttpResponse:
    """What ONSS inspectors looked up about the logged-in worker: when and which office."""
    context = {
        "accesses": accesses_about(request.user),
        "names_shown": settings.CLAO_SHOW_INSPECTOR_NAMES,
    }
    return render(request, "checkins/inspector_accesses.html", context)
