"""Response headers that every page gets."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


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
