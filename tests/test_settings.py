"""Production configuration, checked in fresh processes: settings are read once at start."""

import os
import subprocess
import sys
import threading
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from accounts import saml
from demo import idp

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijkl",
    "ALLOWED_HOSTS": "clao.example.be",
    "DATABASE_URL": "postgres://clao@db.example.be:5432/clao",
    "CLAO_SAML_IDP_METADATA_URL": "https://idp.example.be/metadata.xml",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CLAO_", "DEBUG", "DJANGO_ALLOW_ASYNC"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_the_deploy_checks_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout


def test_it_requires_a_secret_key_without_debug():
    env = {key: value for key, value in PRODUCTION.items() if key != "SECRET_KEY"}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_it_refuses_the_development_idp_without_debug():
    result = manage("check", **PRODUCTION, CLAO_DEV_IDP="1")
    assert result.returncode != 0
    assert "CLAO_DEV_IDP=1 is refused when DEBUG is off" in result.stderr


def test_it_allows_the_idp_origin_in_form_action():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECURE_CSP['form-action'])",
        **PRODUCTION,
    )
    assert "https://idp.example.be" in result.stdout, result.stderr


def test_it_configures_the_idp_from_a_metadata_file(settings, tmp_path):
    metadata = tmp_path / "idp.xml"
    metadata.write_text(idp.metadata_xml())
    settings.CLAO_SAML_IDP_METADATA_URL = f"file://{metadata}"
    configured = saml.idp_settings()
    assert configured["entity_id"] == idp.entity_id()
    assert configured["sso_url"] == idp.url("sso/")
    assert configured["slo_url"] == idp.url("slo/")
    assert configured["x509cert"] in idp.keypair()[0].replace("\n", "")


def test_it_fetches_the_idp_metadata_over_plain_http_on_127_0_0_1(settings, tmp_path):
    (tmp_path / "metadata.xml").write_text(idp.metadata_xml())
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/metadata.xml"
        settings.CLAO_SAML_IDP_METADATA_URL = url
        saml._metadata_cache.clear()
        assert saml.idp_settings()["sso_url"] == idp.url("sso/")
        # Cached: a second call does not fetch again.
        server.shutdown()
        assert saml.idp_settings()["entity_id"] == idp.entity_id()
    finally:
        server.server_close()
        saml._metadata_cache.clear()


@pytest.mark.parametrize("missing", ["CLAO_SAML_SP_CERT_FILE", "CLAO_SAML_SP_KEY_FILE"])
def test_it_needs_sp_keys_in_production(missing):
    env = PRODUCTION | {
        "CLAO_SAML_SP_CERT_FILE": "/nonexistent/cert.pem",
        "CLAO_SAML_SP_KEY_FILE": "/x",
    }
    env.pop(missing)
    code = "from accounts.saml import sp_keypair; sp_keypair()"
    result = manage("shell", "-c", code, **env)
    assert "CLAO_SAML_SP_CERT_FILE and CLAO_SAML_SP_KEY_FILE are required" in result.stderr
