from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from clao.ratelimits import limited

from .addresses import suggest_municipalities, suggest_streets


def _suggestions(request: HttpRequest, fragment: str, context: dict, title) -> HttpResponse:
    """The bare list for HTMX, which swaps it under the field; a page around it otherwise."""
    if request.htmx:
        response = render(request, fragment, context)
    else:
        response = render(
            request, "geo/suggestions_page.html", {**context, "fragment": fragment, "title": title}
        )
    # The same URL answers both ways: a cache must not serve one for the other.
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
@limited("suggestions")
def municipality_suggestions(request: HttpRequest) -> HttpResponse:
    """?q= a postal code prefix, a municipality name prefix in any language, or both.

    The address fields send themselves (hx-get on the input) as ?postal_code= or
    ?municipality=, so those stand for q too."""
    query = request.GET.get("q") or " ".join(
        request.GET.get(name, "").strip() for name in ("postal_code", "municipality")
    )
    suggestions = suggest_municipalities(query, get_language())
    return _suggestions(
        request,
        "geo/municipality_suggestions.html",
        {"suggestions": suggestions},
        _("Municipalities"),
    )


@login_required
@require_GET
@limited("suggestions")
def street_suggestions(request: HttpRequest) -> HttpResponse:
    """?q= (or ?street=, the field itself) the start of a word of the street name, with
    ?nis= (or ?municipality_nis=, the form's hidden field) or ?postal_code= for where."""
    streets = suggest_streets(
        request.GET.get("q") or request.GET.get("street", ""),
        nis_code=(request.GET.get("nis") or request.GET.get("municipality_nis", "")).strip(),
        postal_code=request.GET.get("postal_code", "").strip(),
        person=request.user,
    )
    return _suggestions(request, "geo/street_suggestions.html", {"streets": streets}, _("Streets"))
