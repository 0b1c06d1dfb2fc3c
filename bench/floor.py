"""The floor under the check-in, served for bench/web.py: what a logged-in POST costs in this stack
before the check-in does its own work.

    gunicorn -c gunicorn.conf.py bench.floor:application   (DJANGO_SETTINGS_MODULE=clao.settings)

ClaO's settings and URLs, plus three POSTs that take the check-in's request as it is (session,
CSRF token, fresh client_token) and answer its redirect:
- /floor/noop/: the logged-in person is read, nothing else (ClaO's middleware);
- /floor/store/: stores the IN through `register()` with fixed values, no form, no rate limit;
- /floor/lean/store/: the same through only the middleware a check-in POST needs.
The check-in's ratio to the bare view cannot exceed the store's: the distance between them is
what the form, the rate limit and the messages cost; the lean store is what dropping the other
middleware on that path could give.
"""

from decimal import Decimal

import django
from django.conf import settings

django.setup(set_prefix=False)

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402 - after setup()
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from checkins.models import Registration  # noqa: E402
from checkins.services import Place, register  # noqa: E402
from clao.urls import urlpatterns as clao_urlpatterns  # noqa: E402

# A check-in POST's own needs: headers, a readable session, the person, its CSRF check, the
# 6-hour rule, its language, the messages of the page it redirects to, the 429 of its limit.
LEAN_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "clao.middleware.MalformedSessionCookieMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.LoginExpiryMiddleware",
    "accounts.middleware.WorkerLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]
GPS = Place(latitude=Decimal("50.846557"), longitude=Decimal("4.351697"), accuracy_m=12)


def noop(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponse(status=403)
    return HttpResponseRedirect("/")


def store(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponse(status=403)
    result = register(
        worker=request.user,
        kind=Registration.Kind.IN,
        enterprise_number=request.POST["enterprise_number"],
        place=GPS,
        source=Registration.Source.SMARTPHONE,
        idempotency_key=request.POST["client_token"],
    )
    return HttpResponseRedirect(f"/registrations/{result.registration.pk}/")


urlpatterns = [
    path("floor/noop/", noop),
    path("floor/store/", store),
    path("floor/lean/store/", store),
    *clao_urlpatterns,
]


class FloorHandler(WSGIHandler):
    """ClaO's handler with these URLs and the given middleware."""

    def __init__(self, middleware: list[str]) -> None:
        self.middleware = middleware
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        with override_settings(MIDDLEWARE=self.middleware):
            super().load_middleware(is_async)

    def get_response(self, request: HttpRequest) -> HttpResponse:
        request.urlconf = __name__
        return super().get_response(request)


full = FloorHandler(settings.MIDDLEWARE)
lean = FloorHandler(LEAN_MIDDLEWARE)


def application(environ, start_response):
    handler = lean if environ.get("PATH_INFO", "").startswith("/floor/lean/") else full
    return handler(environ, start_response)
