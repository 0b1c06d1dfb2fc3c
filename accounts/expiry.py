"""The 6-hour rule: a login lasts 6 hours from authentication, not from the last click."""

from django.conf import settings
from django.core import signing
from django.http import HttpRequest
from django.utils import timezone

AUTHENTICATED_AT = "clao_authenticated_at"
PENDING_FORM = "clao_pending_form"
FORM_OWNER = "form_owner"
NOT_KEPT = {"csrfmiddlewaretoken", "language", "next", FORM_OWNER}
_OWNER_SALT = "clao.form-owner"


def mark_authenticated(request: HttpRequest) -> None:
    request.session[AUTHENTICATED_AT] = timezone.now().timestamp()


def is_expired(request: HttpRequest) -> bool:
    authenticated_at = request.session.get(AUTHENTICATED_AT)
    if authenticated_at is None:
        return True
    return timezone.now().timestamp() - authenticated_at >= settings.CLAO_LOGIN_MAX_AGE


def form_owner_value(person) -> str:
    """A hidden field of the form: who it was shown to, signed, for when the login is gone."""
    return signing.dumps(person.pk, salt=_OWNER_SALT)


def _posted_owner(request: HttpRequest):
    try:
        return signing.loads(request.POST.get(FORM_OWNER, ""), salt=_OWNER_SALT)
    except signing.BadSignature:
        return None


def stash_form(request: HttpRequest, path: str | None = None, owner=None) -> None:
    """Keeps what the worker typed in a form, for the page at `path` to show it again: after a
    new login (the form was posted after expiry) or after a change of language. Only the
    person who typed it gets it back (a team phone, a site tablet)."""
    if owner is None:
        owner = request.user.pk if request.user.is_authenticated else _posted_owner(request)
    if owner is None:
        # Nobody can say whose it is: it is given to nobody.
        request.session.pop(PENDING_FORM, None)
        return
    data = {key: request.POST.getlist(key) for key in request.POST if key not in NOT_KEPT}
    request.session[PENDING_FORM] = {"path": path or request.path, "data": data, "owner": owner}


def pop_pending_form(request: HttpRequest) -> dict | None:
    """The values stashed for this page and this person, as a form's initial data, once."""
    pending = request.session.get(PENDING_FORM)
    if not pending:
        return None
    if pending.get("owner") != request.user.pk:
        # Someone else typed it: dropped, never shown to the person logged in now.
        del request.session[PENDING_FORM]
        return None
    if pending.get("path") != request.path:
        return None
    del request.session[PENDING_FORM]
    return {key: values[-1] for key, values in pending["data"].items() if values}
