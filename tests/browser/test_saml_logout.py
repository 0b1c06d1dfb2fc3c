"""Logging out when the IdP is configured by a metadata file and lives on another origin: the
CSP's form-action must let the logout form's redirect reach the IdP's single logout."""

import pytest

from accounts import saml
from demo import idp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_logs_out_at_an_idp_named_only_in_a_metadata_file(phone, settings, tmp_path):
    # The development IdP reached as 127.0.0.1 while ClaO is localhost: another origin, which
    # only the metadata file names (not CLAO_CSP_FORM_ACTION, not an http:// metadata URL).
    assert "localhost" in phone.site
    other = phone.site.replace("localhost", "127.0.0.1")
    metadata = tmp_path / "idp.xml"
    metadata.write_text(
        idp.metadata_xml()
        .replace(idp.url("sso/"), f"{other}/dev-idp/sso/")
        .replace(idp.url("slo/"), f"{other}/dev-idp/slo/")
    )
    settings.CLAO_SAML_IDP_METADATA_URL = str(metadata)
    # The IdP's own pages post its answer back to ClaO: a real IdP's policy allows that.
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "form-action": [*settings.SECURE_CSP["form-action"], phone.site],
    }
    saml._metadata_cache.clear()
    try:
        page = phone.page
        phone.go("/")
        page.wait_for_url(f"{other}/dev-idp/sso/**")
        phone.answer_idp()
        page.wait_for_url(f"{phone.site}/")
        assert page.get_by_text("85.07.30-033.28").count() >= 1
        page.locator("details.usermenu summary").click()
        page.get_by_role("button", name="Se déconnecter").click()
        page.wait_for_url("**/logged-out/")
        # Both sessions ended: ClaO's, and the IdP's (its single logout was reached).
        assert any("/dev-idp/slo/" in request.url for request in phone.requests)
        phone.go("/")
        page.wait_for_url(f"{other}/dev-idp/sso/**")
    finally:
        saml._metadata_cache.clear()
