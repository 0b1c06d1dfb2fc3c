import logging
from urllib.parse import urlparse

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.niss import format_niss

from . import idp
from .people import PEOPLE, find_person

logger = logging.getLogger(__name__)
SALT = "devidp.authn-request"
MEANS = ("itsme", "eid")


@require_GET
def metadata(request: HttpRequest) -> HttpResponse:
    return HttpResponse(idp.metadata_xml(), content_type="application/samlmetadata+xml")


def _bad_request(request: HttpRequest, reason: str) -> HttpResponse:
    logger.warning("Development IdP refused a request: %s", reason)
    return render(request, "demo/error.html", status=400)


@require_http_methods(["GET", "POST"])
def sso(request: HttpRequest) -> HttpResponse:
    """Shows the choice of means and person; answers the SP with a signed Response."""
    if request.method == "GET":
        sp = idp.service_provider(request)
        try:
            authn_request = idp.parse_redirect_message(request, "SAMLRequest", sp)
            audience, acs_url = idp.requester(authn_request, sp)
        except idp.SAMLRequestError as exc:
            return _bad_request(request, str(exc))
        pending = signing.dumps(
            {
                "id": authn_request.get("ID"),
                "audience": audience,
                "acs_url": acs_url,
                "relay_state": request.GET.get("RelayState", ""),
            },
            salt=SALT,
        )
        return render(request, "demo/login.html", _choice_context(pending, {}))

    try:
        pending_data = signing.loads(request.POST.get("pending", ""), salt=SALT, max_age=600)
    except signing.BadSignature:
        return _bad_request(request, "pending request missing or expired")
    person = find_person(request.POST.get("person", ""))
    errors = {}
    if request.POST.get("means") not in MEANS:
        errors["means"] = _("Choose how you identify yourself.")
    if person is None:
        errors["person"] = _("Choose the person to log in as.")
    if errors:
        context = _choice_context(request.POST["pending"], errors, request.POST)
        return render(request, "demo/login.html", context, status=400)
    saml_response = idp.build_response(
        person,
        in_response_to=pending_data["id"],
        acs_url=pending_data["acs_url"],
        audience=pending_data["audience"],
    )
    context = {
        "acs_url": pending_data["acs_url"],
        "saml_response": saml_response,
        "relay_state": pending_data["relay_state"],
    }
    response = render(request, "demo/post.html", context)
    # ClaO may be opened as localhost while this IdP answers at SITE_ROOT (127.0.0.1): the
    # answer is posted to the host the request came from, which the CSP must then allow.
    acs = urlparse(pending_data["acs_url"])
    policy = dict(settings.SECURE_CSP)
    policy["form-action"] = [*policy.get("form-action", []), f"{acs.scheme}://{acs.netloc}"]
    response._csp_config = policy
    return response


def _choice_context(pending: str, errors: dict, data=None) -> dict:
    data = data or {}
    people = [{**person, "formatted_niss": format_niss(person["niss"])} for person in PEOPLE]
    return {
        "pending": pending,
        "people": people,
        "errors": errors,
        "chosen_means": data.get("means", ""),
        "chosen_person": data.get("person", ""),
    }


@require_GET
def slo(request: HttpRequest) -> HttpResponse:
    sp = idp.service_provider(request)
    try:
        logout_request = idp.parse_redirect_message(request, "SAMLRequest", sp)
    except idp.SAMLRequestError as exc:
        logger.warning("Development IdP refused a logout request: %s", exc)
        return HttpResponseBadRequest()
    # Back to the origin the logout came from (127.0.0.1 or localhost), as for the login.
    relay_state = request.GET.get("RelayState", "")
    sls_url = sp.sls_url
    if relay_state.startswith(("http://", "https://")):
        origin = urlparse(relay_state)
        sls_url = origin._replace(path=urlparse(sp.sls_url).path, query="").geturl()
    return HttpResponseRedirect(
        idp.logout_response_redirect(sls_url, logout_request.get("ID"), relay_state)
    )
