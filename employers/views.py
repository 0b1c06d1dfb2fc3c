import re

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from clao.ratelimits import limited

from .models import Employer, RetiredLinkToken
from .numbers import parse_enterprise_number

START_EMPLOYER = "clao_start_employer"
# What new_link_token() makes (URL-safe base64) and the column holds: anything else is not a
# link of ours, and is not looked up (a NUL byte would not even reach the database).
LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,32}")


@login_required
def personal_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link an employer sends its workers: the new-registration form starts with it."""
    # The token itself is what the employer hands out; no worker owns an employer.
    employer = (
        Employer.objects.filter(link_token=token).first() if LINK_TOKEN.fullmatch(token) else None
    )
    if employer is None:
        # A link the employer replaced says so: the worker asks for the new one.
        retired = (
            RetiredLinkToken.objects.select_related("employer").filter(token=token).first()
            if LINK_TOKEN.fullmatch(token)
            else None
        )
        if retired is not None:
            return render(
                request, "employers/replaced_link.html", {"employer": retired.employer}, status=410
            )
        return render(request, "employers/unknown_link.html", status=404)
    request.session[START_EMPLOYER] = employer.pk
    return redirect("home")


@login_required
@require_GET
@limited("employer_name")
def employer_name(request: HttpRequest) -> HttpResponse:
    """The name of the employer whose number is being typed, shown under the field (htmx).

    Enterprise numbers and names are public (BCE/KBO); nothing of any worker is looked up."""
    employer = None
    try:
        number = parse_enterprise_number(request.GET.get("enterprise_number", "")).number
    except ValidationError:
        number = ""
    if number:
        employer = Employer.objects.filter(number=number).first()
    response = render(request, "employers/employer_name.html", {"employer": employer})
    patch_vary_headers(response, ["HX-Request"])
    return response
