import binascii
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.internal import httpkit
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.providers.saml.utils import build_auth
from allauth.socialaccount.providers.saml.views import SAMLViewMixin
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
from django.views.decorators.http import require_GET, require_POST
from onelogin.saml2.errors import OneLogin_Saml2_Error

from .expiry import stash_form
from .models import ConsumedAssertion
from .saml import SLUG

logger = logging.getLogger(__name__)

SAML_SESSION = "clao_saml"

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


def login_refused(request: HttpRequest, kind: str, next_url: str = "/") -> HttpResponse:
    context = {"reason": REFUSAL_REASONS.get(kind, REFUSAL_REASONS["unknown"]), "next": next_url}
    return render(request, "accounts/login_refused.html", context, status=403)


def _safe_next(request: HttpRequest, value: str | None, default: str = "/") -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return default


@require_GET
def login(request: HttpRequest) -> HttpResponse:
    """Every page that needs a worker sends them here; the IdP round trip keeps `next`."""
    next_url = _safe_next(request, request.GET.get("next"))
    saml_login = reverse("saml_login", kwargs={"organization_slug": SLUG})
    return redirect(f"{saml_login}?{urlencode({'next': next_url})}")


class FinishACSView(SAMLViewMixin):
    """allauth's ACS finish, plus replay protection, a translated refusal page and SLO data."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    def handle(self) -> HttpResponse:
        request = self.request
        provider = self.get_provider(SLUG)
        acs_session = LoginSession(request, "saml_acs_session", "saml-acs-session")
        acs_request_data = acs_session.store.get("request")
        acs_session.delete()
        if not acs_request_data:
            logger.warning("SAML login refused: no ACS request in session")
            return login_refused(request, "session")
        acs_request = httpkit.deserialize_request(acs_request_data, HttpRequest())
        auth = build_auth(acs_request, provider)
        try:
            auth.process_response(request_id=None)
        except binascii.Error:
            return self.refuse("signature", "invalid base64")
        except OneLogin_Saml2_Error as exc:
            return self.refuse(_refusal_kind(str(exc)), str(exc))
        if auth.get_errors():
            reason = auth.get_last_error_reason() or ", ".join(auth.get_errors())
            return self.refuse(_refusal_kind(reason), reason)
        if not auth.is_authenticated():
            return self.refuse("cancelled", "not authenticated")
        state_id = auth.get_last_response_in_response_to()
        if not state_id:
            return self.refuse("session", "IdP-initiated login rejected")
        if not self.consume(auth):
            return self.refuse("replayed", "assertion already consumed")
        login = provider.sociallogin_from_response(request, auth)
        try:
            login.state = provider.unstash_redirect_state(request, state_id)
        except Exception:  # allauth raises PermissionDenied for an unknown state
            return self.refuse("session", "no matching login state (InResponseTo)")
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
        # The technical reason never contains attribute values, so no NISS reaches the log.
        logger.warning("SAML login refused (%s): %s", kind, reason)
        return login_refused(self.request, kind)


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
        return redirect(next_url)
    if request.user.is_authenticated:
        request.user.language = language
        request.user.save(update_fields=["language"])
        if "client_token" in request.POST:
            # The language buttons of the registration form post what was typed along.
            stash_form(request, path=urlparse(next_url).path)
    translation.activate(language)
    response = redirect(next_url)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        httponly=True,
    )
    return response
