"""The SAML service provider's configuration, built from the identity provider's metadata."""

import logging
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from clao.keys import ensure_keypair

logger = logging.getLogger(__name__)
SLUG = "csam"
_metadata_cache: dict[str, tuple[float, dict]] = {}
# The metadata of an IdP living in this process, used when no URL is configured. The
# development IdP (demo/apps.py) plugs itself in here: the product never imports it.
local_metadata_source: Callable[[], str] | None = None


def _read_metadata(url: str) -> str:
    if url.startswith(("http://", "https://")):
        return OneLogin_Saml2_IdPMetadataParser.get_metadata(url, timeout=10).decode()
    return Path(url.removeprefix("file://")).read_text()


def idp_settings() -> dict:
    """Entity ID, SSO and SLO URLs and certificate: everything comes from the metadata."""
    url = settings.CLAO_SAML_IDP_METADATA_URL
    if not url:
        if local_metadata_source is None:
            raise ImproperlyConfigured("CLAO_SAML_IDP_METADATA_URL is not set")
        return _parse(local_metadata_source())
    expires, parsed = _metadata_cache.get(url, (0.0, {}))
    if time.monotonic() > expires:
        parsed = _parse(_read_metadata(url))
        _metadata_cache[url] = (
            time.monotonic() + settings.CLAO_SAML_METADATA_CACHE_SECONDS,
            parsed,
        )
    return parsed


def _parse(xml: str) -> dict:
    idp = OneLogin_Saml2_IdPMetadataParser.parse(
        xml,
        required_sso_binding=C.BINDING_HTTP_REDIRECT,
        required_slo_binding=C.BINDING_HTTP_REDIRECT,
    )["idp"]
    cert = idp.get("x509cert") or idp["x509certMulti"]["signing"][0]
    result = {
        "entity_id": idp["entityId"],
        "sso_url": idp["singleSignOnService"]["url"],
        "x509cert": cert,
    }
    if slo := idp.get("singleLogoutService", {}).get("url"):
        result["slo_url"] = slo
    return result


@cache
def sp_keypair() -> tuple[str, str]:
    cert_file, key_file = settings.CLAO_SAML_SP_CERT_FILE, settings.CLAO_SAML_SP_KEY_FILE
    if cert_file and key_file:
        return Path(cert_file).read_text(), Path(key_file).read_text()
    if not settings.DEBUG and not settings.CLAO_DEV_IDP:
        raise ImproperlyConfigured("CLAO_SAML_SP_CERT_FILE and CLAO_SAML_SP_KEY_FILE are required")
    return ensure_keypair(settings.VAR_DIR / "sp", "ClaO service provider (development)")


def provider_settings() -> dict:
    cert, key = sp_keypair()
    sp = {"entity_id": settings.CLAO_SAML_SP_ENTITY_ID} if settings.CLAO_SAML_SP_ENTITY_ID else {}
    return {
        "idp": idp_settings(),
        "sp": sp,
        "attribute_mapping": {
            "uid": settings.CLAO_SAML_ATTR_NISS,
            "first_name": settings.CLAO_SAML_ATTR_GIVEN_NAME,
            "last_name": settings.CLAO_SAML_ATTR_SURNAME,
            "language": settings.CLAO_SAML_ATTR_LANGUAGE,
        },
        "advanced": {
            "strict": True,
            "x509cert": cert,
            "private_key": key,
            "authn_request_signed": True,
            "logout_request_signed": True,
            "logout_response_signed": True,
            "want_message_signed": True,
            "want_assertion_signed": True,
            "want_attribute_statement": True,
            "reject_idp_initiated_sso": True,
            # Host names such as "testserver" only occur with the development IdP.
            "allow_single_label_domains": settings.CLAO_DEV_IDP,
        },
    }


def social_app() -> SocialApp:
    return SocialApp(
        provider="saml",
        provider_id=SLUG,
        client_id=SLUG,
        name="CSAM",
        settings=provider_settings(),
    )


def _origin(url: str) -> str:
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def idp_form_origins() -> list[str]:
    """The origins of the IdP's SSO and SLO URLs, which the browser is sent to by a posted
    form (logging out redirects there): for the CSP's form-action.

    Read from metadata at hand (a file, or fetched metadata in the cache): never a network
    fetch for a page, nor a failure of the page when the file is missing."""
    url = settings.CLAO_SAML_IDP_METADATA_URL
    if not url:
        return []  # the development IdP is served by ClaO itself: 'self'
    if url.startswith(("http://", "https://")):
        # Fetched by the last login; a stale copy still names the right hosts.
        parsed = _metadata_cache.get(url, (0.0, {}))[1]
    else:
        try:
            parsed = idp_settings()
        except (OSError, ValueError, KeyError, SyntaxError) as exc:
            logger.warning("IdP metadata file unreadable for the CSP: %r", exc)
            return []
    origins = (_origin(parsed.get(key, "")) for key in ("sso_url", "slo_url"))
    return list(dict.fromkeys(origin for origin in origins if origin))
