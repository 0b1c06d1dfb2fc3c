from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.expiry import stash_form


def forbidden(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "errors/403.html", status=403)


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors that might fail again: the plain template only.
    return render(request, "errors/500.html", status=500)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "errors/400.html", status=400)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form too old to be trusted (or cookies blocked): say so in the worker's language."""
    return render(request, "errors/csrf.html", status=403)


# The form pages that show a stashed form again (accounts.expiry.pop_pending_form).
FORMS_KEPT_WHEN_LIMITED = ("/registrations/new/",)


def rate_limited(request: HttpRequest, exception=None) -> HttpResponse:
    """Over a rate limit (clao.ratelimits): a 429 in the person's language. While typing
    (htmx suggestions, employer name) an empty 429, which htmx does not swap into the page;
    a posted registration form is kept for when the worker comes back to it."""
    if getattr(request, "htmx", False) and request.method == "GET":
        response = HttpResponse(status=429)
    else:
        kept = (
            request.method == "POST"
            and request.user.is_authenticated
            and request.path in FORMS_KEPT_WHEN_LIMITED
        )
        if kept:
            stash_form(request)
        context = {"kept_form": kept, "back": request.path}
        response = render(request, "errors/429.html", context, status=429)
    response["Retry-After"] = "60"
    return response
