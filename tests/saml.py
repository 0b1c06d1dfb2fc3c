"""Drives the real SAML round trip through the development IdP with Django's test client."""

import html
import re
from urllib.parse import urlparse

from demo.people import DEMO_PEOPLE

ANNE = DEMO_PEOPLE[0]
JAN = DEMO_PEOPLE[1]

_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def hidden_inputs(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _INPUT.findall(page)}


def form_action(page: str, form_id: str) -> str:
    match = re.search(rf'<form method="post" action="([^"]+)" id="{form_id}"', page)
    assert match, f"no form #{form_id}"
    return html.unescape(match.group(1))


def open_idp(client, start: str = "/", **extra):
    """Follows the redirects from `start` to the IdP's page; returns that response."""
    response = client.get(start, follow=True, **extra)
    assert response.request["PATH_INFO"] == "/dev-idp/sso/", response.redirect_chain
    return response


def idp_answer(client, idp_page, person: dict = ANNE, means: str = "itsme") -> dict:
    """Chooses the means and person on the IdP's page; returns the auto-post form's fields."""
    page = idp_page.content.decode()
    pending = hidden_inputs(page)["pending"]
    response = client.post(
        "/dev-idp/sso/", {"pending": pending, "means": means, "person": person["niss"]}
    )
    assert response.status_code == 200
    answer = response.content.decode()
    return {"action": form_action(answer, "saml-post"), **hidden_inputs(answer)}


def post_to_acs(client, answer: dict, **overrides):
    data = {key: value for key, value in answer.items() if key != "action"} | overrides
    return client.post(urlparse(answer["action"]).path, data, follow=True)


def saml_login(client, start: str = "/", person: dict = ANNE, means: str = "itsme"):
    """The whole round trip; returns the final response after the redirects."""
    return post_to_acs(client, idp_answer(client, open_idp(client, start), person, means))


def pending_request(client, start: str = "/") -> dict:
    """Starts a login and returns the AuthnRequest's ID and RelayState as the IdP saw them."""
    from django.core import signing

    from demo.views import SALT

    page = open_idp(client, start).content.decode()
    return signing.loads(hidden_inputs(page)["pending"], salt=SALT)
