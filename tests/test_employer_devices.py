"""The employer space's badge readers (issue 14, item 7): create and revoke the web service's
device credentials; a new token is shown once; nothing of another enterprise is reachable."""

import re

import pytest
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from api.models import Device
from tests.factories import make_device, make_mandate

pytestmark = pytest.mark.django_db

API = "/api/v1/presence-registrations"


@pytest.fixture
def staff(client, nsi_manager):
    nsi_manager.language = "en"
    nsi_manager.save()
    client.force_login(nsi_manager)
    return client


def devices_url(enterprise):
    return f"/employer/{enterprise.pk}/devices/"


def revoke_url(enterprise, device):
    return f"/employer/{enterprise.pk}/devices/{device.pk}/revoke/"


def api_get(token):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT_LANGUAGE="en").get(API)


def shown_token(response) -> str:
    match = re.search(r'<code id="device-token">([^<]+)</code>', response.content.decode())
    assert match, "the new token is on the result page"
    return match.group(1)


def test_it_creates_a_device_and_shows_its_working_token_once(staff, nsi):
    response = staff.post(devices_url(nsi), {"label": "Entrance hall", "may_send_for": [nsi.pk]})

    assert response.status_code == 201
    assertContains(response, "Copy this token now: it will not be shown again.", status_code=201)
    assert "no-store" in response["Cache-Control"]
    token = shown_token(response)
    device = Device.objects.get(owner=nsi)
    assert device.label == "Entrance hall"
    assert list(device.may_send_for.all()) == [nsi]
    assert token not in device.token_hash

    assert api_get(token).status_code == 200
    listing = staff.get(devices_url(nsi))
    assertContains(listing, "Entrance hall")
    assertContains(listing, device.token_prefix)
    assertNotContains(listing, token)


def test_it_includes_the_enterprise_itself_by_default(staff, nsi):
    response = staff.get(devices_url(nsi))
    assertContains(response, f'value="{nsi.pk}"')
    assertContains(response, "checked")

    staff.post(devices_url(nsi), {"label": "Reader 2"})

    assert list(Device.objects.get(label="Reader 2").may_send_for.all()) == [nsi]


def test_it_lets_a_device_send_for_another_enterprise_the_manager_manages(
    staff, nsi, nsi_manager, other_enterprise
):
    make_mandate(nsi_manager, other_enterprise)

    staff.post(devices_url(nsi), {"label": "Shared", "may_send_for": [other_enterprise.pk]})

    device = Device.objects.get(label="Shared")
    assert device.owner == nsi
    assert set(device.may_send_for.all()) == {nsi, other_enterprise}


def test_it_refuses_a_device_for_an_enterprise_the_manager_does_not_manage(
    staff, nsi, other_enterprise
):
    response = staff.post(
        devices_url(nsi), {"label": "Sneaky", "may_send_for": [other_enterprise.pk]}
    )

    assert response.status_code == 400
    assertContains(response, "Select a valid choice.", status_code=400)
    assert not Device.objects.exists()


def test_it_refuses_an_empty_label_and_stores_nothing(staff, nsi):
    response = staff.post(devices_url(nsi), {"label": "   "})

    assert response.status_code == 400
    assertContains(response, "Give the device a label.", status_code=400)
    assert not Device.objects.exists()


def test_it_revokes_a_device_after_confirmation_and_its_token_gets_401(staff, nsi):
    device, token = make_device(nsi, "Back door")
    assert api_get(token).status_code == 200

    confirmation = staff.get(revoke_url(nsi, device))
    assertContains(confirmation, "Revoke Back door?")
    device.refresh_from_db()
    assert device.revoked_at is None

    response = staff.post(revoke_url(nsi, device), follow=True)

    assertContains(response, "Device “Back door” revoked.")
    assertContains(response, "Revoked on")
    device.refresh_from_db()
    assert device.revoked_at is not None
    assert api_get(token).status_code == 401


def test_it_lists_devices_within_a_query_budget(staff, nsi, django_assert_max_num_queries):
    for n in range(5):
        make_device(nsi, f"Reader {n}")
    with django_assert_max_num_queries(10):
        response = staff.get(devices_url(nsi))
    assertContains(response, "Reader 4")
    assertContains(response, "Never")


def test_it_gives_other_enterprises_staff_404_for_every_device_id(
    client, nsi, other_enterprise, other_manager
):
    device, token = make_device(nsi, "N.S.I. reader")
    theirs, _ = make_device(other_enterprise, "Their reader")
    client.force_login(other_manager)

    assert client.get(devices_url(nsi)).status_code == 404
    assert client.post(devices_url(nsi), {"label": "x"}).status_code == 404
    assert client.get(revoke_url(nsi, device)).status_code == 404
    assert client.post(revoke_url(nsi, device)).status_code == 404
    # Through their own enterprise's URL too: a device of another owner is not found.
    assert client.get(revoke_url(other_enterprise, device)).status_code == 404
    assert client.post(revoke_url(other_enterprise, device)).status_code == 404
    own = client.get(devices_url(other_enterprise))
    assertContains(own, "Their reader")
    assertNotContains(own, "N.S.I. reader")

    device.refresh_from_db()
    assert device.revoked_at is None
    assert api_get(token).status_code == 200
    assert Device.objects.count() == 2


def test_it_sends_anonymous_visitors_to_the_login(client, nsi):
    device, _ = make_device(nsi)

    for url in (devices_url(nsi), revoke_url(nsi, device)):
        response = client.get(url)
        assert response.status_code == 302
        assert "login" in response["Location"]


def test_it_gives_a_plain_worker_404(client, nsi, anne):
    device, _ = make_device(nsi)
    client.force_login(anne)

    assert client.get(devices_url(nsi)).status_code == 404
    assert client.post(revoke_url(nsi, device)).status_code == 404


def test_it_keeps_devices_for_access_managers_only(client, nsi, nsi_user):
    """A user (not access manager) gets 404 and no link: a token registers for the workers."""
    device, _ = make_device(nsi)
    client.force_login(nsi_user)

    assert client.get(devices_url(nsi)).status_code == 404
    assert client.post(revoke_url(nsi, device)).status_code == 404
    assertNotContains(client.get(f"/employer/{nsi.pk}/"), devices_url(nsi))


def test_it_links_the_devices_page_in_the_navigation_of_access_managers(staff, nsi):
    assertContains(
        staff.get(f"/employer/{nsi.pk}/"),
        f'<a href="{devices_url(nsi)}">Badge readers</a>',
        html=True,
    )
