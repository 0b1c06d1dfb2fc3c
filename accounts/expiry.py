"""The 6-hour rule: a login lasts 6 hours from authentication, not from the last click."""

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

AUTHENTICATED_AT = "clao_authenticated_at"
PENDING_FORM = "clao_pending_form"
NOT_KEPT = {"csrfmiddlewaretoken", "language", "next"}


def mark_authenticated(request: HttpRequest) -> None:
    request.session[AUTHENTICATED_AT] = timezone.now().timestamp()


def is_expired(request: HttpRequest) -> bool:
    authenticated_at = request.session.get(AUTHENTICATED_AT)
    if authenticated_at is None:
        return True
    return timezone.now().timestamp() - authenticated_at >= settings.CLAO_LOGIN_MAX_AGE


def stash_form(request: HttpRequest, path: str | None = None) -> None:
    """Keeps what the worker typed in a form, for the page at `path` to show it again: after a
    new login (the form was posted after expiry) or after a change of language."""
    data = {key: request.POST.getlist(key) for key in request.POST if key not in NOT_KEPT}
    request.session[PENDING_FORM] = {"path": path or request.path, "data": data}


def pop_pending_form(request: HttpRequest) -> dict | None:
    """The values stashed for this page, if any, as a form's initial data; a page gets it once."""
    pending = request.session.get(PENDING_FORM)
    if not pending or pending.get("path") != request.path:
        return None
    del request.session[PENDING_FORM]
    return {key: values[-1] for key, values in pending["data"].items() if values}
