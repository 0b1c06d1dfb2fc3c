"""The probes of load balancers and Kubernetes: /healthz (process up) and /readyz (database)."""

import pytest
from django.db.migrations.recorder import MigrationRecorder

from tests.test_settings import PRODUCTION, manage


def test_it_answers_healthz_without_the_database(client):
    # No django_db mark: any query (a session, a user) would fail this test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Cache-Control"] == "no-store"
    assert "sessionid" not in response.cookies


@pytest.mark.django_db
def test_it_is_ready_when_the_database_answers_and_every_migration_is_applied(
    client, django_assert_num_queries
):
    with django_assert_num_queries(1):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.content == b"ready\n"


@pytest.mark.django_db
def test_it_is_not_ready_while_a_migration_is_pending(client):
    # As after a deployment of new code before its migration Job ran (rolled back after).
    latest = MigrationRecorder.Migration.objects.filter(app="checkins").latest("id")
    latest.delete()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.content.decode() == (
        f"not ready: migrations not applied: checkins.{latest.name}\n"
    )


def test_it_refuses_other_methods_on_the_probes(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_it_is_not_ready_without_a_database_but_still_alive():
    # A production process (DEBUG off, so HTTPS redirect on; the probe's plain HTTP and its
    # host "testserver", not in ALLOWED_HOSTS, are answered all the same) whose database port
    # is closed.
    script = (
        "from django.test import Client; c = Client();"
        "r = c.get('/healthz'); print(r.status_code, r.content);"
        "r = c.get('/readyz'); print(r.status_code, r.content)"
    )
    result = manage(
        "shell", "-c", script, **PRODUCTION | {"DATABASE_URL": "postgres://clao@127.0.0.1:9/clao"}
    )
    assert result.returncode == 0, result.stderr
    healthz, readyz = result.stdout.strip().splitlines()[-2:]
    assert healthz == "200 b'ok\\n'"
    assert readyz == "503 b'not ready: database unreachable\\n'"
