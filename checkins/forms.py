import copy
import dataclasses
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from employers.ddt import parse_ddt
from employers.numbers import parse_enterprise_number
from geo.addresses import (
    municipalities_for_postal_code,
    municipality_display_name,
    resolve_address,
)
from geo.text import search_key

from .history import SavedAddress
from .models import Registration

# The 6 decimals of Registration.latitude and .longitude (about 10 cm).
COORDINATE_STEP = Decimal("0.000001")
ADDRESS_FIELDS = ("postal_code", "municipality", "street", "house_number", "box")
DDT_UNKNOWN = "unknown"
DDT_OTHER = "other"


@dataclass(frozen=True)
class FormOptions:
    """What the form proposes from the worker's history; built only to show the form."""

    employers: list = dataclasses.field(default_factory=list)
    ddt_numbers: list = dataclasses.field(default_factory=list)
    saved_addresses: list = dataclasses.field(default_factory=list)


class OpenChoiceField(forms.ChoiceField):
    """Rendered with the proposed choices; any value is accepted here and checked in clean()."""

    def valid_value(self, value) -> bool:
        return True


class IdField(forms.IntegerField):
    """One of our ids: ASCII digits that fit a bigint, nothing else (no "²", no 5,000 digits)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(min_value=1, max_value=2**63 - 1, **kwargs)

    def to_python(self, value):
        value = (value or "").strip() if isinstance(value, str) else value
        if isinstance(value, str) and value and not (value.isascii() and value.isdigit()):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        if isinstance(value, str) and len(value) > 19:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)

    def to_python_or_none(self, value) -> int | None:
        try:
            number = self.clean(value)
        except ValidationError:
            return None
        return number


class PositionForm(forms.Form):
    """The phone's position, filled in by registration.js; rounded as the model stores it."""

    latitude = forms.DecimalField(
        required=False, min_value=-90, max_value=90, widget=forms.HiddenInput
    )
    longitude = forms.DecimalField(
        required=False, min_value=-180, max_value=180, widget=forms.HiddenInput
    )
    accuracy = forms.FloatField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        for name in ("latitude", "longitude"):
            if data.get(name) is not None:
                data[name] = data[name].quantize(COORDINATE_STEP)
        return data


class RegistrationForm(PositionForm):
    """The manual's "Nouvel enregistrement" form. Date and time are never taken from it."""

    client_token = forms.UUIDField(widget=forms.HiddenInput)
    kind = forms.ChoiceField(
        label=pgettext_lazy("registration", "Type"),
        choices=Registration.Kind.choices,
        error_messages={"required": _("Choose IN or OUT.")},
    )
    # Among several employers the worker taps one; the typed number below wins when given.
    employer = OpenChoiceField(label=_("Enterprise number"), required=False)
    enterprise_number = forms.CharField(
        label=_("Enterprise number"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    ddt_choice = OpenChoiceField(label=_("Declaration number"), required=False)
    ddt_number = forms.CharField(
        label=_("Other declaration number"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    postal_code = forms.CharField(
        label=_("Postal code"),
        max_length=4,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "postal-code"}),
    )
    municipality = forms.CharField(label=_("Municipality"), max_length=100, required=False)
    street = forms.CharField(label=_("Street"), max_length=200, required=False)
    house_number = forms.CharField(label=_("Number"), max_length=10, required=False)
    box = forms.CharField(
        label=pgettext_lazy("postal address", "Box"), max_length=10, required=False
    )
    # Filled by a tap on a municipality suggestion; the server checks the names anyway.
    municipality_nis = forms.CharField(max_length=5, required=False, widget=forms.HiddenInput)
    saved_address = OpenChoiceField(
        label=_("An address from a previous registration"), required=False
    )

    def __init__(self, *args, options: "FormOptions | None" = None, locked_ddt: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.locked_ddt = locked_ddt
        self.damaged = self.is_bound and self._repair_hidden_fields()
        self.options_from(options or FormOptions())

    def _repair_hidden_fields(self) -> bool:
        """The hidden fields are filled by the page and registration.js, never typed: an error
        on one would be shown nowhere and could not be corrected. A damaged one is replaced (a
        new token, no position, no municipality hint) and the form is shown again with a
        message, keeping everything typed. True when something was replaced."""
        self.data = data = self.data.copy()
        damaged = False
        try:
            uuid.UUID(str(data.get("client_token", "")))
        except ValueError:
            data["client_token"] = str(uuid.uuid4())
            damaged = True
        position = ("latitude", "longitude", "accuracy")
        try:
            for name in position:
                self.fields[name].clean(data.get(name, ""))
        except ValidationError:
            for name in position:
                data[name] = ""
            damaged = True
        # Only a hint for the street suggestions; the address is checked on its own.
        nis = data.get("municipality_nis", "")
        if nis and not re.fullmatch(r"[0-9]{5}", nis):
            data["municipality_nis"] = ""
        return damaged

    def options_from(self, options: FormOptions) -> None:
        """The proposed values. They only propose: what is posted is checked on its own, so a
        valid submission never needs them (they cost queries) nor is refused when they change."""
        self.options = options
        self.fields["employer"].choices = [
            (option.display_number, option.label) for option in self.options.employers
        ]
        self.fields["saved_address"].choices = [
            ("", _("Choose…")),
            *[(address.key, address.label) for address in self.options.saved_addresses],
        ]
        self.fields["ddt_choice"].choices = [
            ("", _("Choose…")),
            *[(number, number) for number in self.options.ddt_numbers],
            (DDT_OTHER, _("Another number (type it below)")),
            (DDT_UNKNOWN, _("not known")),
        ]
        # Checked without the options: the "missing" message names the employers once known.
        errors = self._errors.get("enterprise_number") if self._errors else None
        if errors and errors.as_data()[0].code == "required":
            self._errors["enterprise_number"] = self.error_class(
                [self._enterprise_number_required()], renderer=self.renderer
            )

    def _enterprise_number_required(self):
        if self.fields["employer"].choices:
            return _("Choose your employer, or enter its enterprise number.")
        return _("Enter the enterprise number.")

    def _clean_enterprise_number(self, data) -> None:
        value = data.get("enterprise_number", "").strip() or data.get("employer", "")
        if not value:
            self.add_error(
                "enterprise_number",
                ValidationError(self._enterprise_number_required(), code="required"),
            )
            return
        try:
            data["enterprise_number"] = parse_enterprise_number(value).number
        except ValidationError as exc:
            self.add_error("enterprise_number", exc)

    def clean_postal_code(self) -> str:
        value = self.cleaned_data["postal_code"].strip()
        if value and not re.fullmatch(r"[1-9][0-9]{3}", value):
            raise ValidationError(_("A Belgian postal code has 4 digits."), code="postal_code")
        return value

    def clean(self):
        data = super().clean()
        if self.damaged:
            self.add_error(
                None,
                ValidationError(
                    _("Part of the form was damaged on its way. Check it and send it again."),
                    code="damaged",
                ),
            )
        self._clean_enterprise_number(data)
        data["ddt"] = self._clean_ddt(data)
        self._clean_place(data)
        return data

    def _clean_ddt(self, data) -> str:
        if self.locked_ddt:
            return self.locked_ddt
        typed, choice = data.get("ddt_number", "").strip(), data.get("ddt_choice", "")
        if typed:
            try:
                return parse_ddt(typed)
            except ValidationError as exc:
                self.add_error("ddt_number", exc)
                return ""
        if choice == DDT_UNKNOWN:
            return ""
        if choice == DDT_OTHER:
            self.add_error("ddt_number", _("Type the declaration number."))
        elif choice:
            try:
                return parse_ddt(choice)
            except ValidationError as exc:
                self.add_error("ddt_choice", exc)
                return ""
        else:
            self.add_error(
                "ddt_choice",
                _('Choose a declaration number, or "not known" if you do not know it.'),
            )
        return ""

    def _clean_place(self, data) -> None:
        data["has_gps"] = data.get("latitude") is not None and data.get("longitude") is not None
        if data["has_gps"]:
            return
        saved = SavedAddress.from_key(data.get("saved_address", ""))
        typed = any(data.get(field, "").strip() for field in ADDRESS_FIELDS)
        if saved is not None and not typed:
            data.update(saved.fields())
        missing = {
            "postal_code": _("Enter the postal code."),
            "municipality": _("Enter the municipality."),
            "street": _("Enter the street."),
        }
        for field, message in missing.items():
            if not data.get(field, "").strip() and field not in self.errors:
                self.add_error(field, message)
        if self.errors.keys() & {"postal_code", "municipality"}:
            return
        candidates = municipalities_for_postal_code(data["postal_code"])
        if not candidates:
            self.add_error("postal_code", _("This Belgian postal code does not exist."))
            return
        municipality = resolve_address(data["postal_code"], data["municipality"])
        if municipality is None:
            # Neither a municipality of the code nor a part of one that the post office
            # names under it (geo.MunicipalityPart): nothing else is taken as a place.
            names = sorted({municipality_display_name(m, get_language()) for m in candidates})
            self.add_error(
                "municipality",
                _(
                    "This municipality does not match postal code %(code)s: type %(names)s, "
                    "or the part of it that the post office names under this code."
                )
                % {"code": data["postal_code"], "names": " / ".join(names)},
            )
            return
        if search_key(data["municipality"]) in municipality.search_names:
            data["municipality"] = municipality_display_name(municipality, get_language())
        # Otherwise a known part ("Laeken", "Jambes"): kept as typed.
        data["municipality_obj"] = municipality


class _SharedFields(dict):
    """A form's fields that each instance copies only in part: Django deep-copies every field
    for every form (a fifth of a check-in's validation), but only the fields named in `copied`
    are changed by an instance; the others are shared, read-only."""

    def __init__(self, fields: dict, copied: set[str]) -> None:
        super().__init__(fields)
        self.copied = copied

    def __deepcopy__(self, memo) -> dict:
        return {
            name: copy.deepcopy(field, memo) if name in self.copied else field
            for name, field in self.items()
        }


# options_from() sets the choices of these three; nothing else changes a field.
RegistrationForm.base_fields = _SharedFields(
    RegistrationForm.base_fields, copied={"employer", "saved_address", "ddt_choice"}
)


class QuickOutForm(PositionForm):
    """The one-tap OUT: only the position comes from the phone, the rest from the open IN."""

    client_token = forms.UUIDField(widget=forms.HiddenInput)
    # The IN this OUT closes, as shown on the page: if another tab closed it meanwhile,
    # nothing more is stored.
    closes = IdField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Without a position there is no one-tap OUT: the view opens the form instead.
        self.fields["latitude"].required = True
        self.fields["longitude"].required = True
