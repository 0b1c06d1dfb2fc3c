"""A property-based run of the web service against its own OpenAPI description (schemathesis):
requests generated from the description (valid and invalid), sent through the WSGI app, must
never get a 5xx, and every answer must match what the description says (status, content type,
body schema). Bounded, so that it stays a few seconds of `make test`."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Loaded from the app itself, through WSGI (no network): the description it serves. The first
# run goes through every phase (the coverage phase tries each boundary and each invalid type the
# description allows); the run without a token needs only random requests.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
random_only = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json",
    get_wsgi_application(),
    config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}}),
)


@pytest.fixture(autouse=True)
def _keep_the_test_connection(db):
    # As Django's test client does: the WSGI handler would otherwise close the test's
    # connection (inside its transaction) at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _api_rate(settings):
    settings.CLAO_API_RATE = "100000/m"


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_it_answers_what_its_description_says(case, device, anne):
    response = case.call(headers={"Authorization": f"Bearer {device.token}"})
    case.validate_response(response, checks=CHECKS)


@random_only.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_it_answers_401_as_described_without_a_token(case):
    response = case.call(headers={"Authorization": "Bearer not-a-token"})
    # Only GET and POST are described; the others get 405 whatever the token.
    assert response.status_code == (401 if case.method in ("GET", "POST") else 405)
    case.validate_response(response, checks=CHECKS)
