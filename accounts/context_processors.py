import time

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .roles import current_space, spaces_for, spaces_named

SPACES_SESSION_KEY = "clao_spaces"
# A mandate granted or revoked shows in the header of a logged-in person after this long.
SPACES_MAX_AGE = 600


def remember_spaces(request: HttpRequest, person) -> list:
    """Reads the person's spaces (one query) and keeps their keys in the session."""
    found = spaces_for(person)
    request.session[SPACES_SESSION_KEY] = {"keys": [s.key for s in found], "at": time.time()}
    return found


def spaces(request: HttpRequest) -> dict:
    """The spaces the header offers to switch between (shown only with more than one).

    Kept in the session from the login on and read again after SPACES_MAX_AGE, so that the
    worker's pages cost no query for it (issue 12's budget). Lazy: htmx partials never touch
    it. A stale header only shows or hides a link: each space checks access on every request
    (employers.scoping for the employer space)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def load():
        cached = request.session.get(SPACES_SESSION_KEY)
        if isinstance(cached, dict) and time.time() - cached.get("at", 0) < SPACES_MAX_AGE:
            return spaces_named(cached.get("keys", []))
        return remember_spaces(request, user)

    found = SimpleLazyObject(load)
    return {
        "clao_spaces": found,
        "clao_space": SimpleLazyObject(lambda: current_space(found, request.path)),
    }
