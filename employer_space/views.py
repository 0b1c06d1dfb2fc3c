"""The employer space: thin views over the domain; every read goes through employers.scoping."""

import csv
import uuid
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from api.credentials import issue_credential, revoke_credential
from checkins.models import Registration, attach_corrections
from checkins.rules import open_in_state
from checkins.services import Place, RegistrationRefused, register
from checkins.windows import horizon
from employers import scoping
from employers.declarations import DeclarationRefused, check_address, create_declaration
from employers.imports import import_contracts, import_declarations
from employers.links import (
    SendingRefused,
    Tally,
    link_url,
    parse_recipients,
    progress_of,
    record_sending,
    replace_link_token,
    retry_failed,
    send_next,
    with_progress,
)
from employers.mandates import MandateRefused, grant, person_by_niss, revoke
from employers.models import Mandate

from .forms import (
    CsvForm,
    DeclarationForm,
    DeviceForm,
    GrantForm,
    RegisterForWorkerForm,
    RegistrationsFilter,
    SendLinkForm,
)
from .poster import poster_pdf, poster_texts, qr_png, qr_url, site_address


def staff_view(view):
    """Logged in, with an active mandate for the enterprise of the URL (else 404)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, enterprise_id: int, *args, **kwargs):
        mandate = scoping.mandate_of(request.user, enterprise_id)
        return view(request, mandate, *args, **kwargs)

    return wrapper


def manager_view(view):
    """Like staff_view, for access managers only (others get 404)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, enterprise_id: int, *args, **kwargs):
        mandate = scoping.managed_mandate_or_404(request.user, enterprise_id)
        return view(request, mandate, *args, **kwargs)

    return wrapper


def _render(request, template: str, mandate: Mandate, context: dict, section: str, status=200):
    return render(
        request,
        template,
        {"mandate": mandate, "enterprise": mandate.employer, "section": section, **context},
        status=status,
    )


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The enterprises of the person's mandates; straight to the only one if there is one."""
    enterprises = list(scoping.enterprises_of(request.user))
    if len(enterprises) == 1:
        return redirect("employer_space:registrations", enterprise_id=enterprises[0].pk)
    return render(request, "employer_space/home.html", {"enterprises": enterprises})


# -- Registrations ---------------------------------------------------------------------------


# A large enterprise has thousands of registrations a day: the list shows them 50 at a time
# (the CSV export gives the whole selection).
PAGE_SIZE = 50


def _selection(request: HttpRequest, mandate: Mandate):
    """The registrations of the filter in the query string (a queryset in time order), the
    filter form, and the day."""
    enterprise = mandate.employer
    numbers = list(scoping.declarations_of(enterprise).values_list("number", flat=True))
    form = RegistrationsFilter(request.GET or None, ddt_numbers=numbers)
    today = timezone.localdate()
    day, ddt, worker = today, "", ""
    if form.is_bound and form.is_valid():
        day = form.cleaned_data["date"] or today
        ddt = form.cleaned_data["ddt"]
        worker = form.cleaned_data["worker"].strip()
    rows = scoping.registrations_visible_to(request.user, enterprise).on_local_day(day)
    if ddt:
        rows = rows.filter(ddt_number=ddt)
    if worker:
        compact = "".join(c for c in worker if c.isdigit())
        if compact and len(compact) >= 4:
            rows = rows.filter(worker__niss__startswith=compact)
        else:
            rows = rows.filter(
                Q(worker__first_name__icontains=worker) | Q(worker__last_name__icontains=worker)
            )
    # The ONSS's corrections are shown with the registration they correct, not as rows.
    return form, day, rows.records().order_by("recorded_at", "pk")


def _flags(rows) -> dict[int, str]:
    """Registration pk -> "open" / "forgotten" for the INs still open (the worker's rule)."""
    workers = {row.worker_id for row in rows}
    if not workers:
        return {}
    # Each worker's latest record in force (the worker's rule: a cancelled IN is not open), in
    # one bounded query (not their whole history). Only a latest one among these rows gets a
    # flag: it is looked for from the oldest of them on, in those months only (on PostgreSQL
    # a month is a partition, checkins/partitions.py).
    since, until = min(row.recorded_at for row in rows), horizon()
    window = Q(recorded_at__gte=since, recorded_at__lt=until)
    latest_pk = (
        Registration.objects.filter(window, worker_id=OuterRef("worker_id"))
        .in_force(since, until)
        .order_by("-recorded_at", "-pk")
        .values("pk")[:1]
    )
    latest = Registration.objects.filter(
        window, worker_id__in=workers, pk=Subquery(latest_pk)
    ).only("pk", "worker_id", "kind", "recorded_at")
    now = timezone.now()
    flags = {}
    for registration in latest:
        state = open_in_state(registration, now)
        if state.registration is not None:
            flags[registration.pk] = state.state.value
    return flags


@staff_view
@require_GET
def registrations(request: HttpRequest, mandate: Mandate) -> HttpResponse:
    form, day, selection = _selection(request, mandate)
    # Ascending time: registrations arriving during the day go to the last page, so the pages
    # already seen do not shift. A page number out of range shows the nearest page.
    page = Paginator(selection, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = attach_corrections(list(page.object_list))
    flags = _flags(rows)
    for row in rows:
        row.flag = flags.get(row.pk, "")
    # The filters without the page: the CSV link and the previous/next links keep them.
    filters = request.GET.copy()
    filters.pop("page", None)
    invalid = form.is_bound and not form.is_valid()
    return _render(
        request,
        "employer_space/registrations.html",
        mandate,
        {
            "form": form,
            "day": day,
            "rows": rows,
            "page": page,
            "query": filters.urlencode(),
            "invalid": invalid,
        },
        "registrations",
        status=400 if invalid else 200,
    )


def _cell(value) -> str:
    """A spreadsheet never runs a cell as a formula (=, +, -, @ at the start)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@staff_view
@require_GET
def registrations_csv(request: HttpRequest, mandate: Mandate) -> HttpResponse:
    form, day, selection = _selection(request, mandate)
    # The whole selection, never one page of it.
    rows = attach_corrections(list(selection))
    flags = _flags(rows)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"clao-{mandate.employer.number}-{day:%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # Excel reads UTF-8 with its byte-order mark.
    writer = csv.writer(response, delimiter=";")
    writer.writerow(
        [
            _("Date and time"),
            _("Type"),
            _("NISS or BIS number"),
            _("Worker"),
            _("Enterprise number"),
            _("Employer"),
            _("Declaration number"),
            _("Place of work"),
            _("Source"),
            _("Registered by"),
            _("Reason"),
            _("State"),
        ]
    )
    states = {"open": _("IN open"), "forgotten": _("IN without OUT")}
    for row in rows:
        if row.cancelled:
            state = _("Cancelled by the ONSS")
        elif row.corrected:
            state = _("Corrected by the ONSS")
        else:
            state = states.get(flags.get(row.pk, ""), "")
        writer.writerow(_csv_line(row, state))
        # Each correction on the line after the registration it corrects.
        for correction in row.corrections.all():
            when = timezone.localtime(row.recorded_at).strftime("%Y-%m-%d %H:%M:%S")
            if correction.correction_kind == Registration.CorrectionKind.CANCEL:
                state = _("Cancels the registration of %(when)s") % {"when": when}
            else:
                state = _("Corrects the registration of %(when)s") % {"when": when}
            writer.writerow(_csv_line(correction, state))
    return response


def _csv_line(row: Registration, state: str) -> list[str]:
    local = timezone.localtime(row.recorded_at)
    place = row.address or f"{row.latitude}, {row.longitude}"
    if row.corrects_id:
        # An inspector is named to employers no more than to workers (CLAO_SHOW_INSPECTOR_NAMES).
        by = str(row.acted_by) if settings.CLAO_SHOW_INSPECTOR_NAMES else _("the ONSS")
        reason = capfirst(row.get_correction_reason_display())
        if row.reason:
            reason = f"{reason}: {row.reason}"
    else:
        by = str(row.acted_by) if row.acted_by else ""
        reason = row.reason
    values = (
        local.strftime("%Y-%m-%d %H:%M:%S"),
        row.kind,
        row.worker.formatted_niss,
        f"{row.worker.first_name} {row.worker.last_name}".strip(),
        row.display_enterprise_number,
        row.employer_name,
        row.ddt_number,
        place,
        row.get_source_display(),
        by,
        reason,
        state,
    )
    return [_cell(value) for value in values]


# -- Declarations of works -------------------------------------------------------------------


@staff_view
@require_http_methods(["GET", "POST"])
def declarations(request: HttpRequest, mandate: Mandate) -> HttpResponse:
    enterprise = mandate.employer
    form = DeclarationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                declaration = create_declaration(enterprise, form.cleaned_data)
            except DeclarationRefused as refused:
                for field, message in refused.errors.items():
                    form.add_error(field, message)
            else:
                messages.success(
                    request,
                    _("Declaration %(number)s added. Print its poster for the site.")
                    % {"number": declaration.number},
                )
                return redirect(
                    "employer_space:poster",
                    enterprise_id=enterprise.pk,
                    number=declaration.number,
                )
        status = 400
    return _render(
        request,
        "employer_space/declarations.html",
        mandate,
        {"form": form, "declarations": list(scoping.declarations_of(enterprise))},
        "declarations",
        status=status,
    )


@staff_view
@require_GET
def poster(request: HttpRequest, mandate: Mandate, number: str) -> HttpResponse:
    declaration = scoping.get_declaration_or_404(mandate.employer, number)
    return _render(
        request,
        "employer_space/poster.html",
        mandate,
        {
            "declaration": declaration,
            "url": qr_url(declaration),
            "address": site_address(declaration),
            "texts": poster_texts(),
        },
        "declarations",
    )


@staff_view
@require_GET
def poster_qr(request: HttpRequest, mandate: Mandate, number: str) -> HttpResponse:
    declaration = scoping.get_declaration_or_404(mandate.employer, number)
    return HttpResponse(qr_png(qr_url(declaration)), content_type="image/png")


@staff_view
@require_GET
def poster_download(request: HttpRequest, mandate: Mandate, number: str) -> HttpResponse:
    declaration = scoping.get_declaration_or_404(mandate.employer, number)
    response = HttpResponse(poster_pdf(declaration), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="clao-ddt-{declaration.number}.pdf"'
    return response


# -- Access (mandates) -----------------------------------------------------------------------


@manager_view
@require_http_methods(["GET", "POST"])
def access(request: HttpRequest, mandate: Mandate) -> HttpResponse:
    enterprise = mandate.employer
    form = GrantForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                granted = grant(
                    employer=enterprise,
                    niss=form.cleaned_data["niss"],
                    role=form.cleaned_data["role"],
                    granted_by=request.user,
                )
            except MandateRefused as refused:
                form.add_error(
                    "niss" if refused.code != "invalid_role" else "role", refused.message
                )
            else:
                messages.success(
                    request,
                    _("Access granted to %(niss)s.") % {"niss": granted.person.formatted_niss},
                )
                return redirect("employer_space:access", enterprise_id=enterprise.pk)
        status = 400
    return _render(
        request,
        "employer_space/access.html",
        mandate,
        {"form": form, "mandates": list(scoping.mandates_of(enterprise))},
        "access",
        status=status,
    )


@manager_view
@require_POST
def revoke_access(request: HttpRequest, mandate: Mandate, mandate_id: int) -> HttpResponse:
    enterprise = mandate.employer
    target = scoping.get_mandate_or_404(enterprise, mandate_id)
    try:
        revoke(mandate=target, revoked_by=request.user)
    except MandateRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(
            request, _("Access of %(niss)s revoked.") % {"niss": target.person.formatted_niss}
        )
    if target.person_id == request.user.pk and target.revoked_at:
        return redirect("home")
    return redirect(reverse("employer_space:access", kwargs={"enterprise_id": enterprise.pk}))


# -- Devices (badge-reader credentials of the web service) ---------------------------------
# Access managers only: a token lets a machine register for the enterprise's workers.


@manager_view
@never_cache
@require_http_methods(["GET", "POST"])
def devices(request: HttpRequest, mandate: Mandate) -> HttpResponse:
    enterprise = mandate.employer
    form = DeviceForm(
        request.POST or None,
        enterprises=scoping.managed_enterprises_of(request.user),
        owner=enterprise,
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            device, token = issue_credential(
                enterprise, form.cleaned_data["label"], form.cleaned_data["may_send_for"]
            )
            # Rendered, not redirected: the plaintext token is stored nowhere, not even in the
            # session, so this response is the only time it is shown (and never cached).
            return _render(
                request,
                "employer_space/device_created.html",
                mandate,
                {"device": device, "token": token},
                "devices",
                status=201,
            )
        status = 400
    return _render(
        request,
        "employer_space/devices.html",
        mandate,
        {"form": form, "devices": list(scoping.devices_of(request.user, enterprise))},
        "devices",
        status=status,
    )


@manager_view
@require_http_methods(["GET", "POST"])
def revoke_device(request: HttpRequest, mandate: Mandate, device_id: int) -> HttpResponse:
    """GET asks for confirmation; POST revokes (the token gets 401 from then on)."""
    enterprise = mandate.employer
    device = scoping.get_device_or_404(request.user, enterprise, device_id)
    if request.method == "POST":
        revoke_credential(device)
        messages.success(request, _("Device “%(label)s” revoked.") % {"label": device.label})
        return redirect("employer_space:devices", enterprise_id=enterprise.pk)
    return _render(
        request, "employer_space/device_revoke.html", mandate, {"device": device}, "devices"
    )


# -- CSV imports -----------------------------------------------------------------------------


@staff_view
@require_http_methods(["GET", "POST"])
def import_declarations_view(request: HttpRequest, mandate: Mandate) -> HttpResponse:
    form = CsvForm(request.POST or None, request.FILES or None)
    results = None
    if request.method == "POST" and form.is_valid():
        results = import_declarations(mandate.employer, form.cleaned_data["file"])
    return _render(
        request,
        "employer_space/import.html",
        mandate,
        {
            "form": form,
            "results": results,
            "title": _("Import declarations of works"),
            "columns": "number;postal_code;municipality;street;house_number;box;latitude;longitude",
            "example": "1Y1005D7JWM3B;1000;Bruxelles;Rue Neuve;12;;50.8503;4.3517",
        },
        "declarations",
        status=400 if request.method == "POST" and not form.is_valid() else 200,
    )


@staff_view
@require_http_methods(["GET", "POST"])
def contracts(request: HttpRequest, mandate: Mandate) -> HttpResponse:
    form = CsvForm(request.POST or None, request.FILES or None)
    results = None
    if request.method == "POST" and form.is_valid():
        results = import_contracts(mandate.employer, form.cleaned_data["file"])
    return _render(
        request,
        "employer_space/import.html",
        mandate,
        {
            "form": form,
            "results": results,
            "title": _("Import contracts (DIMONA or LIMOSA)"),
            "intro": _(
                "The workers with a contract find your enterprise among the employers of their "
                "registration form."
            ),
            "columns": "niss;kind;start;end",
            "example": "85073003328;DIMONA;2026-01-01;",
        },
        "contracts",
        status=400 if request.method == "POST" and not form.is_valid() else 200,
    )


# -- The personalised link -------------------------------------------------------------------


def _send_chunk(sending, *, as_many_as_time_allows: bool = False) -> Tally:
    """A few recipients of the sending (or, for the button without JavaScript, as many as the
    request's time budget allows): every POST about the job moves it on, so it progresses
    while its page is open; the command does the rest."""
    return send_next(
        sending,
        limit=None if as_many_as_time_allows else settings.CLAO_LINK_SEND_CHUNK,
        seconds=settings.CLAO_LINK_SEND_SECONDS,
    )


@staff_view
@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, mandate: Mandate) -> HttpResponse:
    enterprise = mandate.employer
    form = SendLinkForm(request.POST or None, initial={"client_token": uuid.uuid4()})
    refused_lines = []
    status = 200
    if request.method == "POST":
        if form.is_valid():
            recipients, refused_lines = parse_recipients(form.cleaned_data["recipients"])
            if refused_lines:
                form.add_error("recipients", _("Correct the lines below; nothing was sent."))
            else:
                try:
                    sending, _created = record_sending(
                        employer=enterprise,
                        sent_by=request.user,
                        recipients=recipients,
                        key=str(form.cleaned_data["client_token"]),
                        language=get_language(),
                    )
                except SendingRefused as refused:
                    form.add_error("recipients", refused.message)
                else:
                    # The first few at once (a short list is sent before the page shows);
                    # a second submission of the page only moves the same job on.
                    _send_chunk(sending)
                    return redirect(
                        "employer_space:sending", enterprise_id=enterprise.pk, sending_id=sending.pk
                    )
        status = 400
    return _render(
        request,
        "employer_space/link.html",
        mandate,
        {
            "form": form,
            "url": link_url(enterprise),
            "refused_lines": refused_lines,
            "sendings": with_progress(
                scoping.sendings_of(enterprise).select_related("sent_by"), 10
            ),
        },
        "link",
        status=status,
    )


@staff_view
@require_POST
def replace_link(request: HttpRequest, mandate: Mandate) -> HttpResponse:
    replace_link_token(mandate.employer)
    messages.success(
        request, _("The link was replaced. The old link now tells workers to ask for the new one.")
    )
    return redirect("employer_space:link", enterprise_id=mandate.employer.pk)


def _sending_context(found) -> dict:
    return {
        "sending": found,
        "progress": progress_of(found),
        "deliveries": list(found.deliveries.all()),
    }


@staff_view
@require_GET
def sending(request: HttpRequest, mandate: Mandate, sending_id: int) -> HttpResponse:
    """The job's page: n of N sent and each recipient's status. Reading it sends nothing; while
    recipients wait, it asks for the next ones (htmx) or offers a button and refreshes itself."""
    found = scoping.get_sending_or_404(mandate.employer, sending_id)
    return _render(request, "employer_space/sending.html", mandate, _sending_context(found), "link")


@staff_view
@require_POST
def sending_progress(request: HttpRequest, mandate: Mandate, sending_id: int) -> HttpResponse:
    """Sends waiting recipients. htmx gets the updated progress (and asks again while some
    wait); without JavaScript the button's POST goes back to the job's page."""
    found = scoping.get_sending_or_404(mandate.employer, sending_id)
    # htmx asks again and again: small steps show the progress. A person clicking the button
    # would have to click again and again: one click sends what fits in the time budget.
    tally = _send_chunk(found, as_many_as_time_allows=not request.htmx)
    if request.htmx:
        context = _sending_context(found)
        # Nothing sent yet some wait: another sender holds them; ask again less often.
        idle = not (tally.sent or tally.failed) and context["progress"].waiting
        return _render(
            request,
            "employer_space/sending_progress.html",
            mandate,
            {**context, "oob": True, "idle": idle},
            "link",
        )
    return redirect(
        "employer_space:sending", enterprise_id=mandate.employer.pk, sending_id=found.pk
    )


@staff_view
@require_POST
def sending_retry(request: HttpRequest, mandate: Mandate, sending_id: int) -> HttpResponse:
    """The failed recipients wait again, and the first of them are sent at once."""
    found = scoping.get_sending_or_404(mandate.employer, sending_id)
    count = retry_failed(found)
    if count:
        messages.success(
            request,
            ngettext(
                "%(count)s recipient will be sent the link again.",
                "%(count)s recipients will be sent the link again.",
                count,
            )
            % {"count": count},
        )
        _send_chunk(found)
    return redirect(
        "employer_space:sending", enterprise_id=mandate.employer.pk, sending_id=found.pk
    )


# -- Registering for a worker ----------------------------------------------------------------


@staff_view
@require_http_methods(["GET", "POST"])
def register_for_worker(request: HttpRequest, mandate: Mandate) -> HttpResponse:
    enterprise = mandate.employer
    declarations = {d.number: d for d in scoping.declarations_of(enterprise)}
    form = RegisterForWorkerForm(
        request.POST or None,
        initial={"client_token": uuid.uuid4()},
        ddt_numbers=list(declarations),
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            declaration = declarations.get(data["ddt"])
            if declaration is not None:
                address = {
                    "postal_code": declaration.postal_code,
                    "municipality": declaration.municipality,
                    "street": declaration.street,
                    "house_number": declaration.house_number,
                    "box": declaration.box,
                }
                errors = {}
            else:
                address, errors = check_address(data)
            for field, message in errors.items():
                form.add_error(field, message)
            if not errors:
                try:
                    worker = person_by_niss(data["niss"])
                    stored = register(
                        worker=worker,
                        kind=data["kind"],
                        enterprise_number=enterprise.number,
                        ddt_number=data["ddt"],
                        place=Place(**address),
                        source=Registration.Source.EMPLOYER_APP,
                        idempotency_key=str(data["client_token"]),
                        acted_by=request.user,
                        reason=data["reason"].strip(),
                    )
                except MandateRefused as refused:
                    form.add_error("niss", refused.message)
                except RegistrationRefused as refused:
                    form.add_error(None, refused.message)
                else:
                    registration = stored.registration
                    messages.success(
                        request,
                        _("%(kind)s registered for %(niss)s.")
                        % {"kind": registration.kind, "niss": worker.formatted_niss},
                    )
                    return redirect(
                        reverse("employer_space:registrations", args=[enterprise.pk])
                        + f"?worker={worker.niss}"
                    )
        status = 400
    return _render(
        request, "employer_space/register.html", mandate, {"form": form}, "register", status=status
    )
