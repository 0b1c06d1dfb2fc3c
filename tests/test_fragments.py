"""{% per_language %} (clao/templatetags/fragments.py): constant parts of a page rendered once per
language and kept; nothing that could differ between two requests is accepted inside."""

import pytest
from django.template import TemplateSyntaxError, engines
from django.utils import translation

from .saml import hidden_inputs

SOURCE = (
    "{% load i18n fragments %}{% per_language %}<p>{% translate 'Current date/time' %}</p>"
    "<a href=\"{% url 'help' %}\">{% translate 'Share my location' %}</a>{% endper_language %}"
)


def render(source: str, language: str, template=None) -> str:
    template = template or engines["django"].from_string(source)
    with translation.override(language):
        return template.render({})


def test_it_renders_each_language_once_and_keeps_it():
    template = engines["django"].from_string(SOURCE)
    assert render(SOURCE, "fr", template) == (
        '<p>Date/heure courante</p><a href="/help/">Partager ma position</a>'
    )
    assert render(SOURCE, "nl", template) == (
        '<p>Huidige datum/uur</p><a href="/help/">Mijn locatie delen</a>'
    )
    (node,) = [n for n in template.template.nodelist if type(n).__name__ == "PerLanguageNode"]
    assert sorted(language for language, _prefix in node.rendered) == ["fr", "nl"]
    # Kept: French again renders nothing; German, not seen yet, once.
    rendered, render_inside = [], node.nodelist.render
    node.nodelist.render = lambda context: rendered.append(1) or render_inside(context)
    assert render(SOURCE, "fr", template) == render(SOURCE, "fr")
    assert rendered == []
    assert "Meinen Standort teilen" in render(SOURCE, "de", template)
    assert rendered == [1]


@pytest.mark.parametrize(
    "inside",
    [
        "{{ request.path }}",
        "{% if user %}x{% endif %}",
        "{% csrf_token %}",
        "{% translate greeting %}",
        "{% translate 'Share my location' as shared %}",
        "{% translate 'Share my location'|upper %}",
        "{% url 'registration_detail' 1 %}",
        "{% url view_name %}",
        "{% static path %}",
        "{% now 'Y' %}",
    ],
)
def test_it_refuses_anything_that_could_differ_between_requests(inside):
    with pytest.raises(TemplateSyntaxError, match="per_language holds only"):
        engines["django"].from_string(
            "{% load i18n static fragments %}{% per_language %}" + inside + "{% endper_language %}"
        )


def test_the_form_shows_each_language_its_own_words(client, anne, nsi):
    client.force_login(anne)
    for language, words in (
        ("fr", ["Date/heure courante", "Partager ma position"]),
        ("nl", ["Huidige datum/uur", "Mijn locatie delen"]),
        ("fr", ["Date/heure courante", "Partager ma position"]),
    ):
        anne.language = language
        anne.save(update_fields=["language"])
        page = client.get("/registrations/new/").content.decode()
        for word in words:
            assert word in page
        # The per-request parts beside them stay per request.
        assert hidden_inputs(page)["client_token"]
