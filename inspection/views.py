"""The ONSS inspector space, under /onss/: search, a worker's registrations, corrections,
proofs, and the inspector's own access log. Every page reads through the one scoping helper
(inspection.roles.registrations_for) and every look at registrations is logged."""

import csv
import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import Person
from checkins.models import Registration, attach_corrections
from checkins.partitions import by_id
from checkins.services import Place, RegistrationRefused
from checkins.windows import horizon

from . import search
from .access import accesses_by, log_access
from .corrections import correct, correction_deadline, read_proof
from .decorators import inspector_required
from .forms import CorrectionForm, SearchForm
from .models import AccessLog, CorrectionProof, proof_storage
from .roles import registrations_for

CSV_LIMIT = 100_000


def _page_number(request: HttpRequest) -> int:
    value = request.GET.get("page", "1")
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 10_000:
        return 1
    return int(value)


def _get_registration(request: HttpRequest, pk: int) -> Registration:
    """A registration through the inspector's scope (404 outside it)."""
    # In its one month (checkins/partitions.py), not looked for by id in every month.
    registration = get_object_or_404(
        by_id(registrations_for(request.inspector_role).select_related("worker", "employer"), pk)
    )
    return attach_corrections([registration])[0]


@inspector_required
@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    page = None
    query = ""
    if form.is_bound and form.is_valid():
        criteria = form.criteria()
        found = search.matching(request.inspector_role, criteria)
        page = search.page_of(found, _page_number(request))
        log_access(
            request.inspector_role,
            AccessLog.Action.SEARCH,
            {**criteria.as_log(), "page": page.number},
            page.count,
            {registration.worker_id for registration in page.registrations},
            capped=page.count_capped,
        )
        query = urlencode({k: v for k, v in request.GET.items() if k != "page" and v})
    context = {"form": form, "page": page, "query": query}
    return render(request, "inspection/search.html", context)


@inspector_required
@require_GET
def export_csv(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    if not form.is_valid():
        return render(request, "inspection/search.html", {"form": form}, status=400)
    criteria = form.criteria()
    found = search.matching(request.inspector_role, criteria).select_related("worker")
    rows = list(
        found.values_list(
            "pk",
            "recorded_at",
            "kind",
            "worker__niss",
            "worker__last_name",
            "worker__first_name",
            "enterprise_number",
            "employer_name",
            "ddt_number",
            "latitude",
            "longitude",
            "postal_code",
            "municipality",
            "street",
            "house_number",
            "box",
            "source",
            "worker_id",
        )[:CSV_LIMIT]
    )
    # The cancelled ones among them: one query through the index of corrections (an EXISTS per
    # row would be planned as a scan of the whole table for a long export).
    cancelled = set(
        Registration.objects.filter(
            corrects_id__in=[row[0] for row in rows],
            correction_kind=Registration.CorrectionKind.CANCEL,
            # Stored after what they cancel: only the months from the oldest row on are read.
            recorded_at__gte=min((row[1] for row in rows), default=horizon()),
            recorded_at__lt=horizon(),
        ).values_list("corrects_id", flat=True)
    )
    log_access(
        request.inspector_role,
        AccessLog.Action.EXPORT,
        criteria.as_log(),
        len(rows),
        {row[-1] for row in rows},
    )
    tz = timezone.get_default_timezone()
    header = [
        "id",
        _("Date and time"),
        _("Type"),
        _("NISS or BIS number"),
        _("Last name"),
        _("First name"),
        _("Enterprise number"),
        _("Employer"),
        _("Declaration number"),
        _("Latitude"),
        _("Longitude"),
        _("Postal code"),
        _("Municipality"),
        _("Street"),
        _("Number"),
        _("Box"),
        _("Source"),
        _("Cancelled"),
    ]

    class Echo:
        def write(self, value):
            return value

    writer = csv.writer(Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            row = [*row[:-1], _("yes") if row[0] in cancelled else ""]
            row[1] = row[1].astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
            # A cell starting with = + - @ is a formula for spreadsheets: never from our data.
            yield writer.writerow(
                ["'" + c if isinstance(c, str) and c[:1] in "=+-@" else c for c in row]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="clao-registrations.csv"'
    return response


@inspector_required
@require_GET
def worker_registrations(request: HttpRequest, pk: int) -> HttpResponse:
    """One worker's registrations over a period (the search's dates), logged as such."""
    worker = get_object_or_404(Person, pk=pk)
    form = SearchForm({k: v for k, v in request.GET.items() if k in ("date_from", "date_to")})
    form.is_valid()
    if form.errors:
        form = SearchForm({})
        form.is_valid()
    criteria = search.Criteria(
        date_from=form.cleaned_data["date_from"],
        date_to=form.cleaned_data["date_to"],
        niss=worker.niss,
    )
    page = search.page_of(search.matching(request.inspector_role, criteria), _page_number(request))
    log_access(
        request.inspector_role,
        AccessLog.Action.WORKER,
        {**criteria.as_log(), "page": page.number},
        page.count,
        {worker.pk},
        capped=page.count_capped,
    )
    query = urlencode(
        {"date_from": criteria.date_from.isoformat(), "date_to": criteria.date_to.isoformat()}
    )
    context = {"worker": worker, "page": page, "criteria": criteria, "query": query}
    return render(request, "inspection/worker.html", context)


@inspector_required
@require_http_methods(["GET", "POST"])
def correct_registration(request: HttpRequest, pk: int) -> HttpResponse:
    role = request.inspector_role
    original = _get_registration(request, pk)
    if request.method == "POST":
        form = CorrectionForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                proof = read_proof(data["proof"]) if data["proof"] else None
                place = None
                if data["postal_code"]:
                    place = Place(
                        postal_code=data["postal_code"],
                        municipality=data["municipality"],
                        street=data["street"],
                        house_number=data["house_number"],
                        box=data["box"],
                    )
                result = correct(
                    role,
                    original,
                    correction_kind=data["correction_kind"],
                    correction_reason=data["correction_reason"],
                    reason=data["reason"],
                    token=str(data["token"]),
                    kind=data["kind"] or None,
                    enterprise_number=data["enterprise_number"] or None,
                    ddt_number=data["ddt_number"] or None,
                    place=place,
                    proof=proof,
                )
            except RegistrationRefused as refused:
                field = "proof" if refused.code.startswith("proof") else None
                form.add_error(field, refused.message)
            else:
                if result.created:
                    messages.success(request, _("The correction has been stored."))
                else:
                    messages.info(request, _("This correction had already been stored."))
                day = original.recorded_at.astimezone(timezone.get_default_timezone()).date()
                url = reverse("inspection:worker", args=[original.worker_id])
                return redirect(f"{url}?{urlencode({'date_from': day, 'date_to': day})}")
    else:
        form = CorrectionForm(initial={"token": uuid.uuid4()})
    log_access(
        role, AccessLog.Action.REGISTRATION, {"registration": original.pk}, 1, {original.worker_id}
    )
    context = {
        "form": form,
        "registration": original,
        "deadline": correction_deadline(original),
        "open": timezone.now() <= correction_deadline(original) and not original.cancelled,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "inspection/correct.html", context, status=status)


@inspector_required
@require_GET
def proof(request: HttpRequest, pk: int) -> HttpResponse:
    """The proof of a correction, to inspectors only (never a public URL)."""
    found = get_object_or_404(CorrectionProof, pk=pk)
    # Its correction within the inspector's scope, read in its one month (not a semi-join
    # over every month).
    if not by_id(registrations_for(request.inspector_role), found.correction_id).exists():
        raise Http404("no such proof")
    try:
        handle = proof_storage().open(found.file_name, "rb")
    except FileNotFoundError:
        raise Http404("proof missing from storage") from None
    log_access(
        request.inspector_role,
        AccessLog.Action.PROOF,
        {"proof": found.pk},
        1,
        {found.correction.worker_id},
    )
    extension = found.file_name.rsplit(".", 1)[-1]
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"proof-{found.correction_id}.{extension}",
        content_type=found.content_type,
    )


@inspector_required
@require_GET
def my_accesses(request: HttpRequest) -> HttpResponse:
    return render(request, "inspection/log.html", {"entries": accesses_by(request.user)})
