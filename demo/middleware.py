from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def _port(scheme: str, netloc: str) -> int:
    parts = urlsplit(f"{scheme}://{netloc}")
    return parts.port or (443 if scheme == "https" else 80)


class SiteRootPortMiddleware:
    """A development server opened on another port than SITE_ROOT's would send the login to
    that other port (where nothing, or another server, answers): say what to do instead."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        root = urlsplit(settings.SITE_ROOT)
        if _port(request.scheme, request.get_host()) != _port(root.scheme, root.netloc):
            opened = f"{request.scheme}://{request.get_host()}"
            context = {
                "opened": opened,
                "site_root": settings.SITE_ROOT,
                "port": _port(request.scheme, request.get_host()),
            }
            return render(request, "demo/wrong_port.html", context, status=421)
        return self.get_response(request)
