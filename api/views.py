"""The presence-registration web service: /api/v1/ (django-ninja).

Thin: authenticate the device, parse the body through api/schemas.py, store through
api/batches.py (which calls checkins.services.register_many), answer per item. Every failure
gets a JSON answer with a stable `code` and a `message` in the request's Accept-Language.
"""

import functools
import logging
import math

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_ratelimit.core import get_usage
from ninja import NinjaAPI, Query
from ninja.decorators import decorate_view
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from checkins.models import Registration

from .batches import store_batch
from .credentials import authenticate_token
from .docs import describe
from .models import Device
from .schemas import (
    MAX_BATCH,
    ApiError,
    BatchIn,
    BatchOut,
    RegistrationPage,
    RegistrationQuery,
)

logger = logging.getLogger(__name__)

ERRORS = {400: ApiError, 401: ApiError, 413: ApiError, 422: ApiError, 429: ApiError}


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


class TooLarge(Exception):
    pass


class DeviceToken(HttpBearer):
    """Authorization: Bearer <token> of an active device credential; then its rate limit."""

    def __call__(self, request: HttpRequest):
        # HttpBearer's own __call__ logs the header in DEBUG: never log a credential.
        scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Device | None:
        device = authenticate_token(token)
        if device is None:
            return None
        usage = get_usage(
            request,
            group="api.device",
            key=lambda _group, _request: str(device.pk),
            rate=settings.CLAO_API_RATE,
            increment=True,
        )
        if usage and usage["should_limit"]:
            raise RateLimited(max(1, math.ceil(usage["time_left"])))
        return device


api = NinjaAPI(
    title="ClaO presence registrations",
    version="1",
    description=(
        "Badge readers and time-keeping software send the registrations of workers (IN/OUT) in "
        f"batches of 1 to {MAX_BATCH}, with a device credential (Authorization: Bearer ...). "
        "Each item is answered on its own: created, duplicate (the same clientReference from "
        "the same credential) or refused with a stable code; messages follow Accept-Language "
        "(fr, nl, de, en)."
    ),
    urls_namespace="api",
    docs_url=None,
    auth=DeviceToken(),
)


def _error(request, status: int, code: str, message: str, detail=None) -> HttpResponse:
    body = {"code": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return api.create_response(request, body, status=status)


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    response = _error(
        request, 401, "unauthorized", _("A valid device token is required (Authorization: Bearer).")
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(RateLimited)
def _rate_limited(request, exc):
    response = _error(
        request,
        429,
        "rate_limited",
        _("Too many requests from this credential: try again in %(seconds)d seconds.")
        % {"seconds": exc.retry_after},
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(TooLarge)
@api.exception_handler(RequestDataTooBig)
def _too_large(request, exc):
    return _error(
        request,
        413,
        "body_too_large",
        _("The body is larger than %(size)d KB: send at most %(max)d registrations at a time.")
        % {"size": settings.CLAO_API_MAX_BODY_BYTES // 1024, "max": MAX_BATCH},
    )


@api.exception_handler(HttpError)
def _http_error(request, exc):
    if exc.status_code == 400:
        return _error(request, 400, "malformed_body", _("The body is not valid JSON."))
    return _error(request, exc.status_code, "error", str(exc))


def _location(error: dict) -> list:
    return [
        part for part in error.get("loc", ()) if part not in ("body", "batch", "query", "filters")
    ]


@api.exception_handler(ValidationError)
def _invalid(request, exc):
    detail = [
        {"loc": _location(error), "type": error.get("type", ""), "msg": str(error.get("msg", ""))}
        for error in exc.errors
    ]
    if any(
        error.get("type") == "too_long" and _location(error) == ["registrations"]
        for error in exc.errors
    ):
        return _error(
            request,
            422,
            "too_many_items",
            _("A batch holds at most %(max)d registrations.") % {"max": MAX_BATCH},
            detail,
        )
    return _error(
        request,
        422,
        "invalid_body",
        _("The request does not follow the description of the service: see detail."),
        detail,
    )


@api.exception_handler(Exception)
def _unexpected(request, exc):
    # A bug: logged with its trace, answered in JSON (the device resends; nothing is lost).
    logger.exception("api: unexpected error")
    return _error(
        request, 500, "server_error", _("The server could not handle this request; send it again.")
    )


def body_size_limit(view):
    """Refuses an oversized body before anything reads it (no Content-Length: Django's own
    DATA_UPLOAD_MAX_MEMORY_SIZE still applies)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.CLAO_API_MAX_BODY_BYTES:
            return _too_large(request, TooLarge())
        return view(request, *args, **kwargs)

    return wrapper


@api.post(
    "/presence-registrations",
    response={200: BatchOut, **ERRORS},
    summary="Send a batch of registrations",
    operation_id="sendPresenceRegistrations",
)
@decorate_view(body_size_limit)
def send_registrations(request: HttpRequest, batch: BatchIn):
    """Stores each item through ClaO's one registration core, in the batch's order, and answers
    per item. An item whose swipe reached ClaO more than 10 minutes after it was made, or is
    dated more than 2 minutes after its receipt, is refused (`too_late`, `in_future`)."""
    results = store_batch(request.auth, batch.registrations)
    return {
        "created": sum(r.status == "created" for r in results),
        "duplicates": sum(r.status == "duplicate" for r in results),
        "refused": sum(r.status == "refused" for r in results),
        "results": [r.__dict__ for r in results],
    }


@api.get(
    "/presence-registrations",
    response={200: RegistrationPage, **ERRORS},
    summary="What this credential stored",
    operation_id="listPresenceRegistrations",
)
def list_registrations(request: HttpRequest, filters: Query[RegistrationQuery]):
    """The registrations this credential stored (never another's), by swipe time `from`/`to`
    or by `clientReference`, oldest first, `pageSize` per page: to reconcile after an outage."""
    stored = Registration.objects.filter(device=request.auth).select_related("worker", "employer")
    if filters.from_:
        stored = stored.filter(swiped_at__gte=filters.from_)
    if filters.to:
        stored = stored.filter(swiped_at__lt=filters.to)
    if filters.clientReference:
        stored = stored.filter(idempotency_key=filters.clientReference)
    count = stored.count()
    start = (filters.page - 1) * filters.pageSize
    page = stored.order_by("swiped_at", "pk")[start : start + filters.pageSize]
    return {
        "count": count,
        "page": filters.page,
        "pageSize": filters.pageSize,
        "items": [_stored(r) for r in page],
    }


def _stored(registration: Registration) -> dict:
    if registration.has_gps:
        place = {
            "coordinates": {
                "latitude": float(registration.latitude),
                "longitude": float(registration.longitude),
            }
        }
    else:
        place = {
            "address": {
                "postCode": registration.postal_code,
                "municipalityName": registration.municipality,
                "streetName": registration.street,
                "houseNumber": registration.house_number,
                "boxNumber": registration.box,
            }
        }
    number = registration.enterprise_number
    belgian = number.isdigit()
    return {
        "id": registration.pk,
        "clientReference": registration.idempotency_key,
        "ssin": registration.worker.niss,
        "type": registration.kind,
        "employer": {
            "enterpriseNumber": number if belgian else None,
            "foreignVatNumber": None if belgian else number,
            "name": registration.employer_name,
        },
        "workDeclaration": registration.ddt_number or None,
        "placeOfWork": place,
        "registeredAt": registration.swiped_at,
        "receivedAt": registration.recorded_at,
    }


def docs(request: HttpRequest) -> HttpResponse:
    """A readable description of the service, rendered on the server from the same OpenAPI
    document (no CDN, no script: the site's CSP holds)."""
    context = describe(api.get_openapi_schema(path_prefix="/api/v1"))
    context["openapi_url"] = "/api/v1/openapi.json"
    return render(request, "api/docs.html", context)
