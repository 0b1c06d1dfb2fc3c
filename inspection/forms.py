from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.niss import compact_niss
from checkins.models import Registration
from employers.ddt import parse_ddt
from employers.numbers import parse_enterprise_number

from .search import MAX_RANGE_DAYS, Criteria

DEFAULT_RANGE_DAYS = 30


class NumbersCleaned:
    """The optional enterprise and declaration numbers of a form, checked and normalised."""

    def clean_enterprise_number(self) -> str:
        value = self.cleaned_data["enterprise_number"].strip()
        return parse_enterprise_number(value).number if value else ""

    def clean_ddt_number(self) -> str:
        value = self.cleaned_data["ddt_number"].strip()
        return parse_ddt(value) if value else ""


class SearchForm(NumbersCleaned, forms.Form):
    """The search as typed; every field optional but a bounded date range always applies."""

    niss = forms.CharField(label=_("NISS or BIS number"), required=False, max_length=20)
    enterprise_number = forms.CharField(label=_("Enterprise number"), required=False, max_length=30)
    ddt_number = forms.CharField(label=_("Declaration number"), required=False, max_length=20)
    postal_code = forms.CharField(label=_("Postal code of the place"), required=False, max_length=4)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    source = forms.ChoiceField(
        label=_("Source"),
        required=False,
        choices=[("", _("every source")), *Registration.Source.choices],
    )

    def clean_niss(self) -> str:
        value = self.cleaned_data["niss"].strip()
        if not value:
            return ""
        try:
            return compact_niss(value)
        except ValidationError:
            raise ValidationError(
                _("This is not a valid NISS or BIS number."), code="niss"
            ) from None

    def clean_postal_code(self) -> str:
        value = self.cleaned_data["postal_code"].strip()
        if value and not (len(value) == 4 and value.isascii() and value.isdigit()):
            raise ValidationError(_("A Belgian postal code has 4 digits."), code="postal_code")
        return value

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        date_to = data.get("date_to") or today
        date_from = data.get("date_from") or date_to - timedelta(days=DEFAULT_RANGE_DAYS)
        if "date_from" in data and "date_to" in data:
            if date_from > date_to:
                self.add_error("date_to", _("The end of the period is before its start."))
            elif (date_to - date_from).days >= MAX_RANGE_DAYS:
                self.add_error(
                    "date_from",
                    _("Search over at most %(days)s days.") % {"days": MAX_RANGE_DAYS},
                )
        data["date_from"], data["date_to"] = date_from, date_to
        return data

    def criteria(self) -> Criteria:
        data = self.cleaned_data
        return Criteria(
            date_from=data["date_from"],
            date_to=data["date_to"],
            niss=data["niss"],
            enterprise_number=data["enterprise_number"],
            ddt_number=data["ddt_number"],
            postal_code=data["postal_code"],
            source=data["source"],
        )


class CorrectionForm(NumbersCleaned, forms.Form):
    """Cancel or correct one registration: reason from the list plus free text, a proof."""

    token = forms.UUIDField(widget=forms.HiddenInput)
    correction_kind = forms.ChoiceField(
        label=_("What to do"),
        choices=Registration.CorrectionKind.choices,
        widget=forms.RadioSelect,
    )
    correction_reason = forms.ChoiceField(
        label=_("Reason"), choices=[("", "—"), *Registration.CorrectionReason.choices]
    )
    reason = forms.CharField(
        label=_("Explanation"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )
    kind = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", "—"), *Registration.Kind.choices]
    )
    enterprise_number = forms.CharField(label=_("Enterprise number"), required=False, max_length=30)
    ddt_number = forms.CharField(label=_("Declaration number"), required=False, max_length=20)
    postal_code = forms.CharField(label=_("Postal code"), required=False, max_length=4)
    municipality = forms.CharField(label=_("Municipality"), required=False, max_length=100)
    street = forms.CharField(label=_("Street"), required=False, max_length=200)
    house_number = forms.CharField(label=_("Number"), required=False, max_length=10)
    box = forms.CharField(label=_("Box"), required=False, max_length=10)
    proof = forms.FileField(
        label=_("Proof (PDF or image, optional)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/png,image/jpeg"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("correction_kind") == Registration.CorrectionKind.CORRECT:
            address = [data.get(name, "") for name in ("postal_code", "municipality", "street")]
            if any(address) and not all(address):
                self.add_error(
                    "street",
                    _("Give the whole new address: postal code, municipality and street."),
                )
            changes = [
                data.get("kind"),
                data.get("enterprise_number"),
                data.get("ddt_number"),
                any(address),
            ]
            if not any(changes):
                self.add_error(None, _("Give at least one corrected value."))
        return data
