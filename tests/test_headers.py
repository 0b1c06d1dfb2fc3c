"""Headers that keep a worker's data out of caches and browser features ClaO does not use."""

import pytest

from tests.test_settings import PRODUCTION, manage

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/registrations/new/", "/help/", "/geo/streets/?q=mi"])
def test_it_forbids_storing_any_page_of_a_logged_in_worker(client, anne, path):
    client.force_login(anne)
    response = client.get(path)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_it_lets_the_anonymous_help_page_be_cached(client):
    response = client.get("/help/")
    assert "no-store" not in response.get("Cache-Control", "")


def test_it_allows_geolocation_to_clao_only_and_nothing_else_it_does_not_use(client):
    policy = dict(
        item.strip().split("=", 1) for item in client.get("/help/")["Permissions-Policy"].split(",")
    )
    assert policy["geolocation"] == "(self)"
    for feature in ("camera", "microphone", "payment", "usb", "serial", "bluetooth"):
        assert policy[feature] == "()"


def _production_setting(name: str, **env: str) -> str:
    code = f"from django.conf import settings; print(settings.{name})"
    result = manage("shell", "-c", code, **PRODUCTION, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_it_leaves_hsts_preload_off_in_production_until_an_operator_opts_in():
    assert _production_setting("SECURE_HSTS_SECONDS") == "31536000"
    assert _production_setting("SECURE_HSTS_PRELOAD") == "False"
    assert _production_setting("SECURE_HSTS_PRELOAD", SECURE_HSTS_PRELOAD="1") == "True"


def test_it_passes_the_deploy_checks_with_preload_on_too():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, SECURE_HSTS_PRELOAD="1"
    )
    assert result.returncode == 0, result.stderr + result.stdout
