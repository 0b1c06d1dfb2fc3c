"""A development SAML 2.0 identity provider that imitates CSAM.

It receives the SP's signed AuthnRequest (HTTP-Redirect binding), and answers with a signed
Response holding a signed Assertion (HTTP-POST binding), exactly as a real IdP would.
The tests also use build_response() to forge the refusal cases (tampered, unsigned, expired...).
"""

import base64
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from urllib.parse import urlparse

import xmlsec
from allauth.socialaccount.providers.saml.utils import build_sp_config
from django.conf import settings
from django.utils import timezone
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils as Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from accounts.saml import SLUG, provider_settings
from clao.keys import ensure_keypair

NS = {"samlp": C.NS_SAMLP, "saml": C.NS_SAML}
ASSERTION_LIFETIME = timedelta(minutes=5)


class SAMLRequestError(Exception):
    """The SP's message is malformed, unsigned or badly signed."""


@cache
def keypair() -> tuple[str, str]:
    return ensure_keypair(settings.VAR_DIR / "devidp", "ClaO development identity provider")


def url(path: str) -> str:
    return f"{settings.SITE_ROOT}/dev-idp/{path}"


def entity_id() -> str:
    return url("metadata/")


def _cert_body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "CERTIFICATE" not in line)


def metadata_xml() -> str:
    cert = _cert_body(keypair()[0])
    return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id()}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="true"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:SingleLogoutService Binding="{C.BINDING_HTTP_REDIRECT}" Location="{url("slo/")}"/>
    <md:NameIDFormat>{C.NAMEID_TRANSIENT}</md:NameIDFormat>
    <md:SingleSignOnService Binding="{C.BINDING_HTTP_REDIRECT}" Location="{url("sso/")}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""


@dataclass(frozen=True)
class ServiceProvider:
    entity_id: str
    acs_url: str
    sls_url: str
    cert: str


def service_provider(request) -> ServiceProvider:
    """The one SP this IdP serves: ClaO itself, read from its own configuration."""
    sp = build_sp_config(request, provider_settings(), SLUG)
    return ServiceProvider(
        entity_id=sp["entityId"],
        acs_url=sp["assertionConsumerService"]["url"],
        sls_url=sp["singleLogoutService"]["url"],
        cert=sp["x509cert"],
    )


def _verify_redirect_signature(query: dict, message_name: str, cert: str) -> None:
    """The HTTP-Redirect binding signs the URL-encoded query, built as python3-saml builds it."""
    signature, sig_alg = query.get("Signature"), query.get("SigAlg")
    if not signature or not sig_alg:
        raise SAMLRequestError("unsigned request")
    signed = f"{message_name}={Utils.escape_url(query[message_name])}"
    if "RelayState" in query:
        signed += f"&RelayState={Utils.escape_url(query['RelayState'])}"
    signed += f"&SigAlg={Utils.escape_url(sig_alg)}"
    if not Utils.validate_binary_sign(signed, base64.b64decode(signature), cert, sig_alg):
        raise SAMLRequestError("bad request signature")


def parse_redirect_message(request, message_name: str, sp: ServiceProvider) -> etree._Element:
    """Decodes a message of the SP; its signature with the SP's certificate proves who sent it."""
    query = request.GET
    if message_name not in query:
        raise SAMLRequestError(f"no {message_name}")
    _verify_redirect_signature(query, message_name, sp.cert)
    try:
        xml = Utils.decode_base64_and_inflate(query[message_name])
        return OneLogin_Saml2_XML.to_etree(xml)
    except (ValueError, zlib.error, etree.XMLSyntaxError) as exc:
        raise SAMLRequestError("malformed message") from exc


def requester(message: etree._Element, sp: ServiceProvider) -> tuple[str, str]:
    """The SP's entity ID and ACS URL as the (verified) request names them.

    ClaO may be reached as 127.0.0.1 or localhost: answering to the host the request came
    from keeps the browser's session cookie on the same origin.
    """
    issuer = message.findtext("saml:Issuer", namespaces=NS) or ""
    acs_url = message.get("AssertionConsumerServiceURL") or sp.acs_url
    if urlparse(acs_url).path != urlparse(sp.acs_url).path:
        raise SAMLRequestError("unexpected assertion consumer service")
    return issuer, acs_url


def _saml_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _attribute(name: str, value: str) -> str:
    return (
        f'<saml:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:'
        f'basic"><saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">'
        f"{_escape(value)}</saml:AttributeValue></saml:Attribute>"
    )


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_response(
    person: dict,
    *,
    in_response_to: str,
    acs_url: str,
    audience: str,
    issued_at: datetime | None = None,
    sign_assertion: bool = True,
    sign_response: bool = True,
    issuer: str | None = None,
) -> str:
    """A base64-encoded SAML Response for `person` (niss, first_name, last_name, language)."""
    cert, key = keypair()
    now = issued_at or timezone.now()
    issuer = issuer or entity_id()
    response_id, assertion_id = Utils.generate_unique_id(), Utils.generate_unique_id()
    name_id = Utils.generate_unique_id()
    attributes = "".join(
        [
            _attribute(settings.CLAO_SAML_ATTR_NISS, person["niss"]),
            _attribute(settings.CLAO_SAML_ATTR_GIVEN_NAME, person["first_name"]),
            _attribute(settings.CLAO_SAML_ATTR_SURNAME, person["last_name"]),
            _attribute(settings.CLAO_SAML_ATTR_LANGUAGE, person.get("language", "fr")),
        ]
    )
    # The inspector's office, when the deployment reads the role from the IdP.
    if person.get("office") and settings.CLAO_SAML_ATTR_INSPECTOR_OFFICE:
        attributes += _attribute(settings.CLAO_SAML_ATTR_INSPECTOR_OFFICE, person["office"])
    not_before, not_after = (
        _saml_time(now - timedelta(seconds=30)),
        _saml_time(now + ASSERTION_LIFETIME),
    )
    assertion = f"""<saml:Assertion xmlns:saml="{C.NS_SAML}" ID="{assertion_id}" Version="2.0" \
IssueInstant="{_saml_time(now)}"><saml:Issuer>{issuer}</saml:Issuer><saml:Subject><saml:NameID \
Format="{C.NAMEID_TRANSIENT}">{name_id}</saml:NameID><saml:SubjectConfirmation \
Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData \
NotOnOrAfter="{not_after}" Recipient="{acs_url}" InResponseTo="{in_response_to}"/>\
</saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{not_before}" \
NotOnOrAfter="{not_after}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience>\
</saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{_saml_time(now)}" \
SessionIndex="{Utils.generate_unique_id()}"><saml:AuthnContext><saml:AuthnContextClassRef>\
urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard</saml:AuthnContextClassRef></saml:AuthnContext>\
</saml:AuthnStatement><saml:AttributeStatement>{attributes}</saml:AttributeStatement>\
</saml:Assertion>"""
    if sign_assertion:
        assertion = Utils.add_sign(assertion, key, cert, sign_algorithm=C.RSA_SHA256).decode()
        assertion = assertion.removeprefix('<?xml version="1.0"?>').strip()
    response = f"""<samlp:Response xmlns:samlp="{C.NS_SAMLP}" xmlns:saml="{C.NS_SAML}" \
ID="{response_id}" Version="2.0" IssueInstant="{_saml_time(now)}" Destination="{acs_url}" \
InResponseTo="{in_response_to}"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status>\
<samlp:StatusCode Value="{C.STATUS_SUCCESS}"/></samlp:Status>{assertion}</samlp:Response>"""
    if sign_response:
        response = Utils.add_sign(response, key, cert, sign_algorithm=C.RSA_SHA256).decode()
    return base64.b64encode(response.encode()).decode()


def logout_response_redirect(sls_url: str, in_response_to: str, relay_state: str) -> str:
    """The signed LogoutResponse sent back to the SP's single logout service."""
    cert, key = keypair()
    now = _saml_time(timezone.now())
    xml = f"""<samlp:LogoutResponse xmlns:samlp="{C.NS_SAMLP}" xmlns:saml="{C.NS_SAML}" \
ID="{Utils.generate_unique_id()}" Version="2.0" IssueInstant="{now}" Destination="{sls_url}" \
InResponseTo="{in_response_to}"><saml:Issuer>{entity_id()}</saml:Issuer><samlp:Status>\
<samlp:StatusCode Value="{C.STATUS_SUCCESS}"/></samlp:Status></samlp:LogoutResponse>"""
    message = Utils.deflate_and_base64_encode(xml)
    query = f"SAMLResponse={Utils.escape_url(message)}"
    if relay_state:
        query += f"&RelayState={Utils.escape_url(relay_state)}"
    query += f"&SigAlg={Utils.escape_url(C.RSA_SHA256)}"
    signature = base64.b64encode(
        Utils.sign_binary(query, key, xmlsec.Transform.RSA_SHA256)
    ).decode()
    return f"{sls_url}?{query}&Signature={Utils.escape_url(signature)}"
