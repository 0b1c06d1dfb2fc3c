"""Reading pages by meaning (what a field holds, which button is suggested), not by markup order."""

from django.test.html import parse_html
from lxml import html as lxml_html


def tree(page: str):
    return lxml_html.fromstring(page)


def field_value(page: str, name: str) -> str | None:
    """The value a text or hidden input shows, or None when there is no such field."""
    found = tree(page).xpath(f'//input[@name="{name}"][not(@type="radio")]')
    return found[0].get("value", "") if found else None


def selected(page: str, name: str) -> str | None:
    """The value of the selected option of a <select>, or None when none is selected."""
    found = tree(page).xpath(f'//select[@name="{name}"]//option[@selected]')
    return found[0].get("value") if found else None


def options(page: str, name: str) -> list[str]:
    return [option.get("value") for option in tree(page).xpath(f'//select[@name="{name}"]//option')]


def suggested_kind(page: str) -> str | None:
    """The IN/OUT button of the registration form shown as the primary (suggested) one."""
    found = [
        button.get("value")
        for button in tree(page).xpath('//form[@id="registration-form"]//button[@name="kind"]')
        if "primary" in button.get("class", "").split()
    ]
    return found[0] if len(found) == 1 else None


def is_hidden(page: str, element_id: str) -> bool:
    (element,) = tree(page).xpath(f'//*[@id="{element_id}"]')
    return element.get("hidden") is not None


def contains_html(page: str, fragment: str) -> bool:
    """Like assertInHTML: attribute order, quoting and white space do not matter."""
    return parse_html(fragment) in parse_html(page)
