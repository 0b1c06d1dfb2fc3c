"""The 6-hour rule: a login lasts 6 hours from authentication, not from the last click."""

from django.conf import settings
from django.http import HttpRequest, QueryDict
from django.utils import timezone

AUTHENTICATED_AT = "clao_authenticated_at"
PENDING_FORM = "clao_pending_form"


def mark_authenticated(request: HttpRequest) -> None:
    request.session[AUTHENTICATED_AT] = timezone.now().timestamp()


def is_expired(request: HttpRequest) -> bool:
    authenticated_at = request.session.get(AUTHENTICATED_AT)
    if authenticated_at is None:
        return True
    return timezone.now().timestamp() - authenticated_at >= settings.CLAO_LOGIN_MAX_AGE


def stash_form(request: HttpRequest) -> None:
    """Keeps what the worker typed in a form submitted after expiry, for after the new login."""
    data = {key: request.POST.getlist(key) for key in request.POST if key != "csrfmiddlewaretoken"}
    request.session[PENDING_FORM] = {"path": request.path, "data": data}


def pop_pending_form(request: HttpRequest) -> QueryDict | None:
    """The data stashed for this page, if any; a page gets it once."""
    pending = request.session.get(PENDING_FORM)
    if not pending or pending.get("path") != request.path:
        return None
    del request.session[PENDING_FORM]
    restored = QueryDict(mutable=True)
    for key, values in pending["data"].items():
        restored.setlist(key, values)
    return restored
