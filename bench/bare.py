"""The bare Django view the web benchmark compares ClaO with: HttpResponse("ok"), no middleware.

Served by the same gunicorn.conf.py and venv as ClaO (bench/web.py):
    gunicorn -c gunicorn.conf.py bench.bare:application
"""

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bare-view-of-the-benchmark",  # noqa: S106 - answers "ok", signs nothing
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_I18N=False,
)

from django.core.wsgi import get_wsgi_application  # noqa: E402 - needs the settings above
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("", ok)]
application = get_wsgi_application()
