import base64
import binascii
import logging
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.internal import httpkit
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.providers.saml.utils import build_auth
from allauth.socialaccount.providers.saml.views import SAMLViewMixin
from allauth.socialaccount.providers.saml.views import login as allauth_saml_login
from allauth.socialaccount.providers.saml.views import sls as allauth_sls
from allauth.socialaccount.sessions import LoginSession
from django.conf import settings
from django.contrib.auth import logout as local_logout
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from lxml import etree
from onelogin.saml2.errors import OneLogin_Saml2_Error
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from clao.ratelimits import limited

from .expiry import stash_form
from .models import ConsumedAssertion
from .saml import SLUG

logger = logging.getLogger(__name__)

SAML_SESSION = "clao_saml"
ACS_SESSION = ("saml_acs_session", "saml-acs-session")  # allauth's names, read by the finish
ACS_SESSION_SECONDS = 300
# What python3-saml raises on a message that is not base64, not XML, or carries a DTD or an
# entity (its parser forbids both): the answer is refused, never a server error.
UNREADABLE = (binascii.Error, zlib.error, etree.LxmlError, ValueError, TypeError)

# Why a login was refused, as the worker reads it. The log keeps the technical reason.
REFUSAL_REASONS = {
    "signature": _("The answer of the identity service could not be verified."),
    "expired": _("The answer of the identity service arrived too late."),
    "replayed": _("This login answer has already been used."),
    "audience": _("The answer of the identity service was meant for another service."),
    "issuer": _("The answer came from an identity service that ClaO does not know."),
    "identity": _("The identity service did not give a valid national number (NISS)."),
    "session": _("Your login took too long or was started in another window."),
    "cancelled": _("The login was cancelled."),
    "unreadable": _("The answer of the identity service could not be read."),
    "too_large": _("The answer of the identity service is too large to be accepted."),
    "unknown": _("The login could not be completed."),
}


def _refusal_kind(reason: str) -> str:
    reason = reason.lower()
    if "audience" in reason:
        return "audience"
    if "issuer" in reason:
        return "issuer"
    if "expired" in reason or "timestamp" in reason or "notbefore" in reason.replace(" ", ""):
        return "expired"
    if any(word in reason for word in ("sign", "reference", "digest", "invalid_response")):
        return "signature"
    return "unknown"


def login_refused(
    request: HttpRequest, kind: str, next_url: str = "/", status: int = 403
) -> HttpResponse:
    context = {"reason": REFUSAL_REASONS.get(kind, REFUSAL_REASONS["unknown"]), "next": next_url}
    return render(request, "accounts/login_refused.html", context, status=status)


def _refuse(request: HttpRequest, kind: str, reason: str, status: int = 403) -> HttpResponse:
    # The technical reason never contains attribute values, so no NISS reaches the log. It may
    # hold what the message said (an Issuer): repr() keeps it on one line, whatever it holds.
    logger.warning("SAML login refused (%s): %r", kind, reason)
    return login_refused(request, kind, status=status)


def _check_saml_response(auth) -> tuple[str, str] | None:
    """python3-saml's checks of a posted Response (signature, times, audience, issuer):
    (kind, technical reason) when it is refused, None when it passes."""
    try:
        auth.process_response(request_id=None)
    except UNREADABLE as exc:
        return "unreadable", f"{type(exc).__name__}: {exc}"
    except OneLogin_Saml2_Error as exc:
        return _refusal_kind(str(exc)), str(exc)
    if auth.get_errors():
        reason = auth.get_last_error_reason() or ", ".join(auth.get_errors())
        return _refusal_kind(reason), reason
    if not auth.is_authenticated():
        return "cancelled", "not authenticated"
    if not auth.get_last_response_in_response_to():
        return "session", "IdP-initiated login rejected"
    return None


def _readable_xml(xml: bytes) -> bool:
    try:
        OneLogin_Saml2_XML.to_etree(xml)
    except UNREADABLE:
        return False
    return True


def _decoded_post_message(value: str) -> bytes | None:
    """The XML of a message of the HTTP-POST binding (base64, line breaks allowed)."""
    try:
        xml = base64.b64decode("".join(value.split()), validate=True)
    except UNREADABLE:
        return None
    return xml if xml and _readable_xml(xml) else None


def _decoded_redirect_message(value: str, limit: int) -> bytes | None:
    """The XML of a message of the HTTP-Redirect binding (deflated, then base64), inflated to
    at most `limit` bytes: a small URL must not inflate into megabytes."""
    try:
        inflater = zlib.decompressobj(-15)
        xml = inflater.decompress(base64.b64decode("".join(value.split()), validate=True), limit)
    except UNREADABLE:
        return None
    if inflater.unconsumed_tail or not xml:
        return None
    return xml if _readable_xml(xml) else None


def _safe_next(request: HttpRequest, value: str | None, default: str = "/") -> str:
    """A path of this site to go back to; anything else (another host, "Ünïcödé", a NUL
    byte) gives `default`."""
    if (
        value
        and value.startswith("/")
        and value.isprintable()
        and url_has_allowed_host_and_scheme(
            value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return value
    return default


@require_GET
def to_login(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """allauth's password, signup and local login pages: workers log in at the IdP only."""
    query = request.META.get("QUERY_STRING", "")
    return HttpResponseRedirect(reverse("login") + (f"?{query}" if query else ""))


@require_GET
def login(request: HttpRequest) -> HttpResponse:
    """Every page that needs a worker sends them here; the IdP round trip keeps `next`."""
    next_url = _safe_next(request, request.GET.get("next"))
    saml_login = reverse("saml_login", kwargs={"organization_slug": SLUG})
    return redirect(f"{saml_login}?{urlencode({'next': next_url})}")


def _content_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


# allauth's login start (the signed AuthnRequest, the state kept in the session).
saml_login = limited("login", key="ip")(allauth_saml_login)


@csrf_exempt
@require_POST
@limited("acs", key="ip")
def acs(request: HttpRequest, organization_slug: str) -> HttpResponse:
    """allauth's ACS, which keeps the posted answer for the finish step in a new session row,
    but only for an answer that passes every check that needs no session: anything else is
    refused here and stores nothing (no django_session row for a stranger's post)."""
    if organization_slug != SLUG:
        return login_refused(request, "issuer")
    limit = settings.CLAO_SAML_ACS_MAX_BYTES
    # Checked before the body is read; the field again for a body sent without a length.
    if _content_length(request) > limit:
        return _refuse(request, "too_large", f"{_content_length(request)} bytes", status=413)
    saml_response = request.POST.get("SAMLResponse", "")
    if len(saml_response) > limit:
        return _refuse(request, "too_large", f"{len(saml_response)} characters", status=413)
    if _decoded_post_message(saml_response) is None:
        return _refuse(request, "unreadable", "not base64 XML without DTD", status=400)
    provider = get_social_adapter().get_provider(request, "saml", client_id=SLUG)
    if refusal := _check_saml_response(build_auth(request, provider)):
        return _refuse(request, *refusal)
    response = HttpResponseRedirect(
        reverse("saml_finish_acs", kwargs={"organization_slug": organization_slug})
    )
    acs_session = LoginSession(request, *ACS_SESSION)
    acs_session.store.update({"request": httpkit.serialize_request(request)})
    # The browser comes for it at once: an answer never fetched is clearsessions' after 5 min.
    acs_session.store.set_expiry(ACS_SESSION_SECONDS)
    acs_session.save(response)
    return response


@csrf_exempt
def sls(request: HttpRequest, organization_slug: str) -> HttpResponse:
    """allauth's single logout service, once the message is known to be readable XML; its
    refusals (a bad signature) become the translated page."""
    for name in ("SAMLRequest", "SAMLResponse"):
        value = request.GET.get(name)
        if (
            value is not None
            and _decoded_redirect_message(value, settings.CLAO_SAML_ACS_MAX_BYTES) is None
        ):
            logger.warning("SAML logout message refused: %s is not readable", name)
            return render(request, "errors/400.html", status=400)
    try:
        response = allauth_sls(request, organization_slug=organization_slug)
    except UNREADABLE as exc:
        logger.warning("SAML logout message refused: %r", exc)
        return render(request, "errors/400.html", status=400)
    if response.status_code == 400:
        return render(request, "errors/400.html", status=400)
    return response


class FinishACSView(SAMLViewMixin):
    """allauth's ACS finish, plus replay protection, a translated refusal page and SLO data."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    def handle(self) -> HttpResponse:
        request = self.request
        provider = self.get_provider(SLUG)
        acs_session = LoginSession(request, *ACS_SESSION)
        acs_request_data = acs_session.store.get("request")
        acs_session.delete()
        if not acs_request_data:
            logger.warning("SAML login refused: no ACS request in session")
            return login_refused(request, "session")
        acs_request = httpkit.deserialize_request(acs_request_data, HttpRequest())
        auth = build_auth(acs_request, provider)
        if refusal := _check_saml_response(auth):
            return self.refuse(*refusal)
        assertion_id = auth.get_last_assertion_id()
        if ConsumedAssertion.objects.filter(assertion_id=assertion_id).exists():
            return self.refuse("replayed", "assertion already consumed")
        login = provider.sociallogin_from_response(request, auth)
        try:
            login.state = provider.unstash_redirect_state(
                request, auth.get_last_response_in_response_to()
            )
        except Exception:  # allauth raises PermissionDenied for an unknown state
            return self.refuse("session", "no matching login state (InResponseTo)")
        # Used only now that the login is this browser's own: someone else's unused answer
        # posted from another session is refused above without costing its owner the login.
        if not self.consume(auth):
            return self.refuse("replayed", "assertion already consumed")
        response = complete_social_login(request, login)
        if request.user.is_authenticated:
            request.session[SAML_SESSION] = {
                "name_id": auth.get_nameid(),
                "name_id_format": auth.get_nameid_format(),
                "session_index": auth.get_session_index(),
            }
        return response

    def consume(self, auth) -> bool:
        """Stores the assertion ID; a second use of the same assertion is a replay."""
        not_after = auth.get_last_assertion_not_on_or_after()
        expires = (
            datetime.fromtimestamp(not_after, UTC)
            if not_after
            else timezone.now() + timedelta(hours=1)
        )
        try:
            with transaction.atomic():
                ConsumedAssertion.objects.create(
                    assertion_id=auth.get_last_assertion_id(), expires_at=expires
                )
        except IntegrityError:
            return False
        ConsumedAssertion.objects.filter(expires_at__lt=timezone.now() - timedelta(days=1)).delete()
        return True

    def refuse(self, kind: str, reason: str) -> HttpResponse:
        return _refuse(self.request, kind, reason)


def finish_acs(request: HttpRequest, organization_slug: str) -> HttpResponse:
    if organization_slug != SLUG:
        return login_refused(request, "issuer")
    try:
        return FinishACSView(request).handle()
    except ImmediateHttpResponse as exc:
        return exc.response


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Ends the local session, then asks the IdP for single logout when it offers it."""
    saml_session = request.session.get(SAML_SESSION) or {}
    was_authenticated = request.user.is_authenticated
    local_logout(request)
    if not was_authenticated or not saml_session.get("name_id"):
        return redirect("logged_out")
    provider = get_social_adapter().get_provider(request, "saml", client_id=SLUG)
    auth = build_auth(request, provider)
    try:
        url = auth.logout(
            return_to=request.build_absolute_uri(reverse("logged_out")),
            name_id=saml_session["name_id"],
            name_id_format=saml_session.get("name_id_format"),
            session_index=saml_session.get("session_index"),
        )
    except OneLogin_Saml2_Error:
        # This IdP has no single logout: the local logout is all there is.
        return redirect("logged_out")
    return HttpResponseRedirect(url)


@require_GET
def logged_out(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/logged_out.html")


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The header's language menu: reloads the current page and remembers the choice."""
    language = request.POST.get("language", "")
    next_url = _safe_next(request, request.POST.get("next"))
    if language not in dict(settings.LANGUAGES):
        return HttpResponseRedirect(next_url)
    if request.user.is_authenticated:
        request.user.language = language
        request.user.save(update_fields=["language"])
        if "client_token" in request.POST:
            # The language buttons of the registration form post what was typed along.
            stash_form(request, path=urlparse(next_url).path)
    translation.activate(language)
    response = HttpResponseRedirect(next_url)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        httponly=True,
    )
    return response
