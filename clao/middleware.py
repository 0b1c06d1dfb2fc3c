"""Response headers that every page gets; cookies no session can have."""

import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

SESSION_KEY = re.compile(r"[a-z0-9]{8,64}")


class SecurityHeadersMiddleware:
    """Permissions-Policy on every response; no-store on whatever a logged-in person gets.

    Every page of a logged-in person shows their NISS in the header, and most show positions
    or registrations: no browser cache, shared computer or proxy may keep a copy."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        if settings.CLAO_PERMISSIONS_POLICY and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = settings.CLAO_PERMISSIONS_POLICY
        return response


class MalformedSessionCookieMiddleware:
    """Drops a session cookie that no session key can be before anything looks it up.

    Django makes keys of 32 lower-case letters and digits; anything else (a NUL byte, which
    PostgreSQL refuses in a query) would otherwise make the session lookup a server error.
    Also allauth's cookie of the SAML answer kept for the finish step."""

    NAMES = (settings.SESSION_COOKIE_NAME, "saml-acs-session")

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name in self.NAMES:
            value = request.COOKIES.get(name)
            if value is not None and not SESSION_KEY.fullmatch(value):
                del request.COOKIES[name]
        return self.get_response(request)
