"""Property-based tests: every field and query parameter of the worker's side fed arbitrary
text, NUL bytes, huge numbers, Unicode digits and over-long values. The answer is never a
server error: a page with a message, a 4xx page, or an empty answer while typing; and a
refused input stores nothing."""

import uuid
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checkins.models import Registration
from employers.models import Employer, WorkDeclaration

pytestmark = pytest.mark.django_db

# What an attacker or a clumsy thumb sends.
SPECIAL = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "ZZ\x00\x00",
        "²",
        "١٢٣٤",
        "٣٤٥٦٧٨٩٠١٢",
        "𝟏𝟎𝟎𝟎",
        "1" * 5000,
        "9" * 40,
        "-1",
        "0",
        "1e400",
        "NaN",
        "-Infinity",
        "' OR 1=1--",
        "<script>alert(1)</script>",
        "Ünïcödé",
        "../../etc/passwd",
        "%00",
        "\r\nSet-Cookie: x=1",
        "\u202e\u2028",
        "ZZ" + "1" * 28,
        "BE0450905686",
        "1000",
        "2026-02-30",
        "2026-11-29",
        "99999-01-01",
    ]
)
NASTY = st.one_of(
    SPECIAL,
    st.text(max_size=40),
    st.integers(min_value=-(10**80), max_value=10**80).map(str),
    st.text(alphabet=st.characters(categories=["Nd", "No", "Cc", "Zs"]), max_size=30),
    st.text(min_size=201, max_size=1200),
)


def ok(response) -> None:
    """A 2xx/3xx answer, or a 4xx page; never a 5xx."""
    assert response.status_code < 500, response.status_code


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    # The fuzzing itself must not trip the rate limits (tests/test_rate_limits.py has those).
    settings.CLAO_RATE_LIMITS = {group: "100000/m" for group in settings.CLAO_RATE_LIMITS}


@pytest.fixture
def worker(client, anne):
    client.force_login(anne)
    return client


@pytest.fixture
def nsi(db):
    employer = Employer.objects.create(number="0450905686", name="N.S.I.", link_token="nsi-link")
    WorkDeclaration.objects.create(
        number="1Y1002V9KLZ6Z",
        employer=employer,
        postal_code="1000",
        municipality="Bruxelles",
        street="Rue du Midi",
    )
    return employer


@given(q=NASTY, postal_code=NASTY, municipality=NASTY, htmx=st.booleans())
def test_it_suggests_municipalities_for_anything(
    worker, geo_data, q, postal_code, municipality, htmx
):
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    for params in ({"q": q}, {"postal_code": postal_code, "municipality": municipality}):
        ok(worker.get("/geo/municipalities/", params, **extra))


@given(q=NASTY, nis=NASTY, postal_code=NASTY)
def test_it_suggests_streets_for_anything(worker, geo_data, q, nis, postal_code):
    ok(worker.get("/geo/streets/", {"q": q, "nis": nis, "postal_code": postal_code}))
    ok(
        worker.get(
            "/geo/streets/",
            {"street": q, "municipality_nis": nis, "postal_code": postal_code},
            HTTP_HX_REQUEST="true",
        )
    )


@given(number=NASTY)
def test_it_looks_up_an_employer_name_for_anything(worker, nsi, number):
    response = worker.get("/employers/name/", {"enterprise_number": number})
    ok(response)
    assert response.status_code == 200


@given(token=NASTY)
def test_it_answers_any_employer_link(worker, nsi, token):
    response = worker.get(f"/l/{quote(token, safe='')}/")
    ok(response)
    assert response.status_code in (302, 404)


@given(number=NASTY)
def test_it_answers_any_qr_code(worker, nsi, number):
    response = worker.get(f"/qr/{quote(number, safe='')}/")
    ok(response)
    assert response.status_code in (302, 404)


@given(language=NASTY, next_url=NASTY)
def test_it_changes_language_for_anything(worker, language, next_url):
    response = worker.post("/language/", {"language": language, "next": next_url})
    assert response.status_code == 302


@given(date=NASTY)
def test_it_shows_the_list_for_any_date(worker, date):
    ok(worker.get("/", {"date": date}))
    ok(worker.get("/", {"date": date}, HTTP_HX_REQUEST="true"))


@given(out_of=NASTY)
def test_it_opens_the_form_for_any_out_of(worker, nsi, out_of):
    response = worker.get("/registrations/new/", {"out_of": out_of})
    ok(response)
    assert response.status_code == 200


FORM_FIELDS = [
    "kind",
    "client_token",
    "employer",
    "enterprise_number",
    "ddt_choice",
    "ddt_number",
    "postal_code",
    "municipality",
    "street",
    "house_number",
    "box",
    "municipality_nis",
    "saved_address",
    "latitude",
    "longitude",
    "accuracy",
]
VALID_FORM = {
    "kind": "IN",
    "enterprise_number": "0450.905.686",
    "ddt_choice": "unknown",
    "postal_code": "1000",
    "municipality": "Bruxelles",
    "street": "Rue du Midi",
}
FORMS = st.one_of(
    # One field of a valid registration replaced: reaches the deepest checks.
    st.builds(
        lambda field, value: VALID_FORM | {field: value}, st.sampled_from(FORM_FIELDS), NASTY
    ),
    # Anything at all.
    st.dictionaries(st.sampled_from(FORM_FIELDS), NASTY, max_size=len(FORM_FIELDS)),
)


@given(data=FORMS)
def test_it_refuses_any_bad_form_with_a_message_and_stores_nothing(worker, geo_data, nsi, data):
    data = {"client_token": str(uuid.uuid4())} | data
    before = Registration.objects.count()
    response = worker.post("/registrations/new/", data)
    ok(response)
    if response.status_code == 302 and response["Location"].startswith("/registrations/"):
        assert Registration.objects.count() == before + 1
    else:
        assert Registration.objects.count() == before
        assert response.status_code == 400
        page = response.content.decode()
        # The general notice, and the message itself under its field or above the form.
        assert 'id="form-errors"' in page
        assert 'class="error"' in page or 'class="errors" role="alert"' in page


@given(
    data=st.dictionaries(
        st.sampled_from(["client_token", "closes", "latitude", "longitude", "accuracy"]), NASTY
    )
)
def test_it_answers_any_quick_out(worker, anne, nsi, data):
    from tests.factories import make_registration

    if not Registration.objects.exists():
        make_registration(anne, "IN", employer=nsi)
    before = Registration.objects.count()
    response = worker.post("/registrations/quick-out/", data)
    ok(response)
    assert response.status_code == 302
    # No valid token among the values: the OUT goes through the form instead.
    assert Registration.objects.count() == before


@given(saml_response=NASTY, relay_state=NASTY)
def test_it_refuses_any_saml_answer_without_a_server_error(client, saml_response, relay_state):
    response = client.post(
        "/accounts/saml/csam/acs/", {"SAMLResponse": saml_response, "RelayState": relay_state}
    )
    assert response.status_code in (400, 403, 413)
    ok(client.get("/accounts/saml/csam/acs/finish/"))


@given(name=st.sampled_from(["SAMLRequest", "SAMLResponse"]), value=NASTY, relay_state=NASTY)
def test_it_refuses_any_logout_message_without_a_server_error(client, name, value, relay_state):
    response = client.get("/accounts/saml/csam/sls/", {name: value, "RelayState": relay_state})
    assert response.status_code == 400
