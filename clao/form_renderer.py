"""Django's form renderer, with its plainest widget templates written in Python.

Each `{{ form.field }}` renders the widget's template through the template engine: the nine
widgets of the registration form took about 1 ms of CPU per page, a fifth of its rendering.
Hidden and text inputs and selects are written here as those templates write them (the same
bytes: tests/test_form_renderer.py compares both on every widget of the form and on values to
escape). Anything else, a value these functions do not know how to show exactly as the
template would (a number to localise), or a widget template overridden by an app, goes through
Django's templates as before.
"""

from pathlib import Path

import django.forms
from django.forms.renderers import DjangoTemplates
from django.utils.functional import Promise
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData

WIDGETS = "django/forms/widgets/"
DJANGO_WIDGETS = Path(django.forms.__file__).parent / "templates" / WIDGETS
OPTION = WIDGETS + "select_option.html"


class Unknown(Exception):
    """A value the Python rendering cannot show exactly as the template would."""


def _formatted(value) -> str:
    """`{{ value|stringformat:'s' }}`, autoescaped."""
    if isinstance(value, tuple):
        value = str(value)
    if value is not None and not isinstance(value, (str, int, Promise)):
        raise Unknown
    text = "%s" % value  # noqa: UP031 - the filter's own formatting
    # stringformat keeps a safe string safe.
    return text if isinstance(value, SafeData) else escape(text)


def _text(value) -> str:
    """`{{ value }}` of a string (a number or a date would be localised)."""
    if not isinstance(value, (str, Promise)):
        raise Unknown
    return conditional_escape(value)


def _attrs(attrs: dict) -> str:
    """django/forms/widgets/attrs.html"""
    html = []
    for name, value in attrs.items():
        if value is not False:
            html.append(" " + _text(name))
            if value is not True:
                html.append('="' + _formatted(value) + '"')
    return "".join(html)


def _input(context: dict) -> str:
    """django/forms/widgets/input.html (and the inputs that include it)."""
    widget = context["widget"]
    html = f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"'
    if widget["value"] is not None:
        html += f' value="{_formatted(widget["value"])}"'
    return html + _attrs(widget["attrs"]) + ">"


def _select(context: dict) -> str:
    """django/forms/widgets/select.html, its options rendered by select_option.html."""
    widget = context["widget"]
    html = [f'<select name="{_text(widget["name"])}"', _attrs(widget["attrs"]), ">"]
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            html.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in group_choices:
            if option["template_name"] != OPTION:
                raise Unknown
            html.append(
                f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_text(option['label'])}</option>\n"
            )
        if group_name:
            html.append("\n  </optgroup>")
    html.append("\n</select>")
    return "".join(html)


PYTHON = {
    WIDGETS + "input.html": _input,
    WIDGETS + "hidden.html": _input,
    WIDGETS + "text.html": _input,
    WIDGETS + "number.html": _input,
    WIDGETS + "select.html": _select,
}
# The templates the Python above stands for, each of which it must match.
STANDS_FOR = ["input.html", "hidden.html", "text.html", "number.html", "select.html", "attrs.html"]


class FormRenderer(DjangoTemplates):
    def __init__(self) -> None:
        super().__init__()
        self._python = PYTHON if self._templates_are_djangos() else {}

    def _templates_are_djangos(self) -> bool:
        """An app may override a widget template: then its template is rendered, not ours."""
        for name in [*STANDS_FOR, "select_option.html"]:
            origin = self.get_template(WIDGETS + name).template.origin.name
            if Path(origin) != DJANGO_WIDGETS / name:
                return False
        return True

    def render(self, template_name, context, request=None):
        render = self._python.get(template_name)
        if render is not None:
            try:
                return render(context)
            except Unknown:
                pass
        return super().render(template_name, context, request)
