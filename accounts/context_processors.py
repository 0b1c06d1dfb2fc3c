from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .roles import current_space, spaces_for


def languages(request: HttpRequest) -> dict:
    return {"clao_languages": settings.LANGUAGES}


def spaces(request: HttpRequest) -> dict:
    """The spaces the header offers to switch between (shown only with more than one).

    Lazy: the mandates are read (one query) only when a page's header uses them, never by the
    htmx partials."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    found = SimpleLazyObject(lambda: spaces_for(user))
    return {
        "clao_spaces": found,
        "clao_space": SimpleLazyObject(lambda: current_space(found, request.path)),
    }
