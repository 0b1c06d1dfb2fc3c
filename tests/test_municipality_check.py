"""The municipality typed in the form: a municipality of the postal code, or a part of one
that the post office names under that code; nothing else is stored as a place."""

import uuid

import pytest

from checkins.models import Registration
from geo.models import Municipality, MunicipalityPart

pytestmark = pytest.mark.django_db

FORM = {
    "kind": "IN",
    "enterprise_number": "0450.905.686",
    "ddt_choice": "unknown",
    "street": "Rue Marie-Christine",
}


@pytest.fixture
def logged_in(client, anne, geo_data):
    client.force_login(anne)
    return client


def post(client, postal_code: str, municipality: str):
    data = FORM | {"postal_code": postal_code, "municipality": municipality}
    return client.post("/registrations/new/", data | {"client_token": uuid.uuid4()})


@pytest.mark.parametrize(
    ("postal_code", "typed"),
    [("1020", "Xyzzy"), ("1020", "' OR 1=1--"), ("4000", "Laeken"), ("1050", "Gent")],
)
def test_it_refuses_a_municipality_that_is_not_of_the_postal_code(logged_in, postal_code, typed):
    response = post(logged_in, postal_code, typed)
    assert response.status_code == 400
    page = response.content.decode()
    assert f"Cette commune ne correspond pas au code postal {postal_code}" in page
    assert not Registration.objects.exists()


def test_it_names_the_municipalities_of_the_postal_code_in_its_message(logged_in):
    page = post(logged_in, "1050", "Gent").content.decode()
    assert "encodez Bruxelles / Ixelles" in page


def test_it_accepts_a_part_known_under_the_postal_code_as_typed(logged_in):
    bruxelles = Municipality.objects.get(nis_code="21004")
    MunicipalityPart.objects.create(municipality=bruxelles, postal_code="1020", name="Laeken")
    response = post(logged_in, "1020", "laeken")
    assert response.status_code == 302
    registration = Registration.objects.get()
    assert (registration.postal_code, registration.municipality) == ("1020", "laeken")
    # The same part under another postal code is not one.
    assert post(logged_in, "1000", "Laeken").status_code == 400


def test_it_writes_a_municipality_name_as_the_list_does(logged_in):
    assert post(logged_in, "1020", "BRUSSEL").status_code == 302
    assert Registration.objects.get().municipality == "Bruxelles"
