from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils import translation

from .expiry import is_expired, stash_form
from .saml import idp_form_origins

# The SAML round trip itself must never be interrupted by the expiry check.
EXEMPT_PREFIXES = ("/accounts/saml/", "/dev-idp/", "/static/")
# What the registration form asks while the worker types. Sending the page to the login from
# there would lose what was typed: these answer "nothing", and the form's own submission
# goes through the login and comes back filled in.
WHILE_TYPING_PREFIXES = ("/geo/", "/employers/name/")


class LoginExpiryMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        htmx = getattr(request, "htmx", False)
        if (
            htmx
            and request.path.startswith(WHILE_TYPING_PREFIXES)
            and (not request.user.is_authenticated or is_expired(request))
        ):
            return _nothing_while_typing(request)
        if (
            request.user.is_authenticated
            and not request.path.startswith(EXEMPT_PREFIXES)
            and is_expired(request)
        ):
            return self.send_to_login(request)
        response = self.get_response(request)
        if (
            htmx
            and response.status_code == 302
            and response["Location"].startswith(resolve_url(settings.LOGIN_URL))
        ):
            # A logged-out htmx navigation (another day of the list): the login is a whole
            # page, not a fragment to swap into the list.
            return _htmx_redirect(response["Location"])
        return response

    def send_to_login(self, request: HttpRequest) -> HttpResponse:
        posted = request.method == "POST"
        owner = request.user.pk
        logout(request)
        if posted:
            # Stashed after logout: logging out empties the session.
            stash_form(request, owner=owner)
        # With its query: a form reached from a QR code keeps its lock (?qr=) after login.
        target = request.get_full_path()
        if getattr(request, "htmx", False):
            return _htmx_redirect(redirect_to_login(target).url)
        return redirect_to_login(target)


def _nothing_while_typing(request: HttpRequest) -> HttpResponse:
    """An empty answer that leaves the browser's cookies alone. Sent with the cookie of a login
    that has just ended, this request finds an empty session, for which SessionMiddleware
    would delete the session cookie: the one the form's own submission may just have replaced
    with the session keeping the typed form for after the login (a race that lost it)."""
    request.COOKIES.pop(settings.SESSION_COOKIE_NAME, None)
    return HttpResponse(status=204)


def _htmx_redirect(url: str) -> HttpResponse:
    response = HttpResponse(status=204)
    response["HX-Redirect"] = url
    return response


class WorkerLanguageMiddleware:
    """The worker's own choice, else the language the IdP sent; LocaleMiddleware did the rest."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.effective_language:
            translation.activate(user.effective_language)
            request.LANGUAGE_CODE = user.effective_language
        return self.get_response(request)


class IdpFormActionMiddleware:
    """Adds the IdP's SSO and SLO origins, read from its metadata, to the CSP's form-action:
    the logout form redirects to the IdP, which Chromium blocks unless form-action allows it.
    The settings cannot know them when the metadata is a file."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(response, "_csp_config", None) is None and settings.SECURE_CSP:
            allowed = settings.SECURE_CSP.get("form-action", [])
            extra = [origin for origin in idp_form_origins() if origin not in allowed]
            if extra:
                response._csp_config = {
                    **settings.SECURE_CSP,
                    "form-action": [*allowed, *extra],
                }
        return response
