from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from employers.models import Employer, Mandate

CSV_MAX_BYTES = 2 * 1024 * 1024


class DeclarationForm(forms.Form):
    """The fields of a declaration of works; `employers.declarations` checks them."""

    number = forms.CharField(label=_("Declaration number"), max_length=40)
    postal_code = forms.CharField(label=_("Postal code"), max_length=10, required=False)
    municipality = forms.CharField(label=_("Municipality"), max_length=100, required=False)
    street = forms.CharField(label=_("Street"), max_length=250, required=False)
    house_number = forms.CharField(label=_("Number"), max_length=40, required=False)
    box = forms.CharField(
        label=pgettext_lazy("postal address", "Box"), max_length=40, required=False
    )
    latitude = forms.CharField(label=_("Latitude"), max_length=40, required=False)
    longitude = forms.CharField(label=_("Longitude"), max_length=40, required=False)
    # The municipality chosen among the suggestions (filled by the suggestions' script).
    municipality_nis = forms.CharField(required=False, widget=forms.HiddenInput)


class CsvForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > CSV_MAX_BYTES:
            raise forms.ValidationError(_("The file is too big (2 MB at most)."))
        raw = upload.read()
        for encoding in ("utf-8-sig", "cp1252"):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                continue
        raise forms.ValidationError(_("The file cannot be read as text (CSV)."))


class GrantForm(forms.Form):
    niss = forms.CharField(label=_("NISS or BIS number"), max_length=40)
    role = forms.ChoiceField(
        label=_("Role"),
        choices=Mandate.Role.choices,
        widget=forms.RadioSelect,
        initial=Mandate.Role.USER,
    )


class RegistrationsFilter(forms.Form):
    """The selection of the registrations list and of its CSV export (GET)."""

    date = forms.DateField(
        label=_("Day"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    ddt = forms.ChoiceField(label=_("Declaration of works"), required=False)
    worker = forms.CharField(label=_("Worker (NISS or name)"), max_length=60, required=False)

    def __init__(self, *args, ddt_numbers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ddt"].choices = [("", _("All")), *[(n, n) for n in ddt_numbers]]


class RegisterForWorkerForm(forms.Form):
    niss = forms.CharField(label=_("Worker's NISS or BIS number"), max_length=40)
    kind = forms.ChoiceField(
        label=pgettext_lazy("registration", "Type"),
        choices=[("IN", "IN"), ("OUT", "OUT")],
        widget=forms.RadioSelect,
    )
    ddt = forms.ChoiceField(label=_("Declaration of works"), required=False)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why the worker could not register (no smartphone, a dead battery…)."),
    )
    # The place when no declaration of works is chosen (else the declaration's site).
    postal_code = forms.CharField(label=_("Postal code"), max_length=10, required=False)
    municipality = forms.CharField(label=_("Municipality"), max_length=100, required=False)
    street = forms.CharField(label=_("Street"), max_length=250, required=False)
    house_number = forms.CharField(label=_("Number"), max_length=40, required=False)
    box = forms.CharField(
        label=pgettext_lazy("postal address", "Box"), max_length=40, required=False
    )
    municipality_nis = forms.CharField(required=False, widget=forms.HiddenInput)
    client_token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, ddt_numbers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ddt"].choices = [
            ("", _("None: give the address below")),
            *[(n, n) for n in ddt_numbers],
        ]


class SendLinkForm(forms.Form):
    recipients = forms.CharField(
        label=_("Recipients"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("One e-mail address or mobile phone number (+32…) per line."),
        max_length=20000,
    )
    client_token = forms.UUIDField(widget=forms.HiddenInput)


class DeviceForm(forms.Form):
    """A new badge-reader credential: a label and the enterprises it may send for."""

    label = forms.CharField(
        label=_("Label"),
        max_length=100,
        help_text=_("For example the site or the place of the reader."),
        error_messages={"required": _("Give the device a label.")},
    )
    may_send_for = forms.ModelMultipleChoiceField(
        label=_("May send registrations for"),
        queryset=Employer.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Your enterprise is always included."),
    )

    def __init__(self, *args, enterprises, owner, **kwargs):
        super().__init__(*args, **kwargs)
        # Only enterprises the person manages: nobody lets a device send for an enterprise
        # they hold no access manager mandate for.
        self.fields["may_send_for"].queryset = enterprises
        self.fields["may_send_for"].initial = [owner.pk]
