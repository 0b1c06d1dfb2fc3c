"""The widgets written in Python (clao/form_renderer.py) give the bytes Django's templates give:
every widget of the registration form, unbound, bound with errors, and values to escape."""

from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy, override

from checkins.forms import FormOptions, RegistrationForm
from checkins.history import EmployerOption, SavedAddress
from clao.form_renderer import FormRenderer

DJANGO, OURS = DjangoTemplates(), FormRenderer()
NASTY = '<script>"Tom & Jerry\'s"</script>'
OPTIONS = FormOptions(
    employers=[EmployerOption("0450905686", "N.S.I."), EmployerOption("0403170701", NASTY)],
    ddt_numbers=["1Y1002V9KLZ6Z", "1Y1002V9KLZ7A"],
    saved_addresses=[SavedAddress("1000", "Bruxelles", NASTY, "1", "")],
)


def both(make_form) -> tuple[dict, dict]:
    """Every field of the form rendered by each renderer."""
    rendered = []
    for renderer in (DJANGO, OURS):
        form = make_form(renderer)
        rendered.append({name: str(form[name]) for name in form.fields})
    return rendered[0], rendered[1]


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_it_renders_the_unbound_registration_form_as_the_templates_do(language):
    with override(language):
        django, ours = both(
            lambda renderer: RegistrationForm(
                initial={"client_token": "3f1c8a52-8d2e-4f7e-9a53-0d6f2b1c9e11", "kind": "IN"},
                options=OPTIONS,
                renderer=renderer,
            )
        )
    assert ours == django


def test_it_renders_a_bound_form_with_errors_and_values_to_escape_as_the_templates_do():
    data = {
        "client_token": "3f1c8a52-8d2e-4f7e-9a53-0d6f2b1c9e11",
        "kind": "SIDEWAYS",
        "employer": NASTY,
        "enterprise_number": NASTY,
        "ddt_choice": "1Y1002V9KLZ7A",
        "ddt_number": "&amp;",
        "postal_code": "10<0",
        "municipality": NASTY,
        "street": mark_safe("<b>safe</b>"),  # noqa: S308 - a test of the safe-string rule
        "house_number": '"',
        "box": "'",
        "latitude": "91",
        "longitude": "x",
        "accuracy": "-1",
        "municipality_nis": "21004",
        "saved_address": "nope",
    }
    django, ours = both(lambda renderer: RegistrationForm(data, options=OPTIONS, renderer=renderer))
    assert ours == django
    assert "&lt;script&gt;" in ours["municipality"]


class Everything(forms.Form):
    text = forms.CharField(
        max_length=30,
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "hidden": False,
                "placeholder": gettext_lazy("Street"),
                "data-raw": NASTY,
                "data-safe": mark_safe("<i>"),  # noqa: S308
                "data-zero": 0,
                "data-none": None,
            }
        ),
    )
    hidden = forms.UUIDField(widget=forms.HiddenInput)
    number = forms.DecimalField(widget=forms.NumberInput)
    choice = forms.ChoiceField(
        choices=[
            ("", "—"),
            (gettext_lazy("Municipality"), [(1, "one"), (2, mark_safe("<b>two</b>"))]),  # noqa: S308
            (3, NASTY),
            ("x", gettext_lazy("not known")),
        ]
    )
    # A number as a group name is localised by the template: rendered by it.
    numbered = forms.ChoiceField(choices=[(Decimal("1.5"), [("a", "A")]), ("b", "B")])


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize(
    "data",
    [
        None,
        {"text": NASTY, "hidden": "x", "number": "1.5", "choice": "2", "numbered": "a"},
        {"text": "", "hidden": "", "number": "", "choice": "3", "numbered": "b"},
    ],
)
def test_it_renders_every_kind_of_value_as_the_templates_do(language, data):
    with override(language):
        django, ours = both(lambda renderer: Everything(data, renderer=renderer))
    assert ours == django
