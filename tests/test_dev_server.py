"""The demo server of `make run`: its login follows the port it runs on."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


def test_it_gives_the_port_of_make_run_to_the_site_root():
    commands = subprocess.run(
        [shutil.which("make"), "-n", "run", "PORT=8111"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    # SITE_ROOT (where the development IdP sends the browser back) is built from the port,
    # unless the operator set it.
    assert 'export SITE_ROOT="${SITE_ROOT:-http://127.0.0.1:8111}"' in commands
    assert "runserver 127.0.0.1:8111" in commands


def test_it_says_what_to_do_when_opened_on_another_port_than_the_site_root(client, settings):
    settings.SITE_ROOT = "http://127.0.0.1:8000"
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    response = client.get("/", HTTP_HOST="127.0.0.1:8111")
    assert response.status_code == 421
    page = response.content.decode().replace("\xa0", " ")
    assert "http://127.0.0.1:8111" in page and "http://127.0.0.1:8000" in page
    assert "make run PORT=8111" in page


def test_it_serves_another_host_name_on_the_same_port(client, settings):
    # localhost and 127.0.0.1 are the same server: the login answers the host it came from.
    settings.SITE_ROOT = "http://127.0.0.1:8000"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    response = client.get("/", HTTP_HOST="localhost:8000")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
