from django.conf import settings
from django.http import HttpRequest


def languages(request: HttpRequest) -> dict:
    return {"clao_languages": settings.LANGUAGES}
