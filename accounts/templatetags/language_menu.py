"""The language menu at the top of every page, written in Python.

As a template (a form, the CSRF field, a button per language) it took half a millisecond of
CPU on every page, more than the day's list of cards. The HTML is the same: a POST to
set_language with the page to come back to; on a page whose form would lose what was typed
(`carry_form` in the context), each button submits that form to set_language instead.
"""

from django import template
from django.conf import settings
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()


def _csrf_token(context) -> str:
    """The page's token, as {% csrf_token %} writes it: masking a new one costs 0.1 ms of CPU."""
    return str(context.get("csrf_token") or get_token(context["request"]))


@register.simple_tag(takes_context=True)
def language_menu(context) -> SafeString:
    request = context["request"]
    action = escape(reverse("set_language"))
    carry = context.get("carry_form")
    carried = f' form="{escape(carry)}" formaction="{action}" formnovalidate' if carry else ""
    current = get_language()
    buttons = "".join(
        f'<li><button type="submit" name="language" value="{escape(code)}" '
        f'lang="{escape(code)}"{carried}'
        + (' aria-current="true"' if code == current else "")
        + f">{escape(name)}</button></li>"
        for code, name in settings.LANGUAGES
    )
    return mark_safe(  # noqa: S308 - every value above is escaped
        f'<form method="post" action="{action}" class="languages">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(_csrf_token(context))}">'
        f'<input type="hidden" name="next" value="{escape(request.get_full_path())}">'
        f"<ul>{buttons}</ul></form>"
    )
