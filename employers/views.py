from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .models import Employer

START_EMPLOYER = "clao_start_employer"


@login_required
def personal_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link an employer sends its workers: the new-registration form starts with it."""
    # The token itself is what the employer hands out; no worker owns an employer.
    employer = Employer.objects.filter(link_token=token).first()
    if employer is None:
        return render(request, "employers/unknown_link.html", status=404)
    request.session[START_EMPLOYER] = employer.pk
    return redirect("home")
