"""The management command that creates, lists and revokes device credentials."""

import hashlib
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from api.models import Device
from tests.factories import make_employer


def run(*args) -> str:
    out = io.StringIO()
    call_command("devices", *args, stdout=out)
    return out.getvalue()


def test_it_creates_a_credential_shows_its_token_once_and_keeps_only_its_hash(nsi):
    other = make_employer("0755123422", "Net & Propre SRL")

    out = run(
        "create", "--owner", "0450.905.686", "--label", "Entrance", "--may-send-for", "0755123422"
    )

    token = out.strip().splitlines()[-1]
    device = Device.objects.get()
    assert device.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {device.token_hash, device.token_prefix, device.label}
    assert set(device.may_send_for.all()) == {nsi, other}
    assert len(token) >= 40
    answer = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/presence-registrations")
    assert answer.status_code == 200


def test_it_lists_credentials_without_their_tokens_and_revokes_one(nsi):
    out = run("create", "--owner", nsi.number, "--label", "Entrance")
    token = out.strip().splitlines()[-1]
    device = Device.objects.get()

    listed = run("list")
    revoked = run("revoke", str(device.pk))

    assert "Entrance" in listed and "active" in listed and token not in listed
    assert "revoked" in revoked
    assert "revoked" in run("list", "--owner", nsi.number)
    device.refresh_from_db()
    assert device.revoked_at <= timezone.now()
    answer = Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(
        "/api/v1/presence-registrations", json.dumps({}), content_type="application/json"
    )
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "--owner", "0755123422", "--label", "x"], "no employer with this number"),
        (["create", "--owner", "123", "--label", "x"], "^123: .+"),
        (["revoke", "999"], "no device credential 999"),
    ],
)
def test_it_explains_what_it_cannot_do(nsi, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Device.objects.exists()
