"""Which spaces a person may enter: the roles beside the person who logs in.

Every person has the worker space. Each other space is one entry of SPACES: a key, its name,
the URL name of its first page, the URL prefix the header uses to tell which space is shown,
and a check `(person) -> bool`. Adding a space (the ONSS inspector space) is one more entry
with its check; the header's space switch and the guards of that space read this list.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from employers.models import Mandate
from inspection.models import Inspector

from .models import Person


@dataclass(frozen=True)
class Space:
    key: str
    name: str | Promise
    url_name: str  # the space's first page
    path_prefix: str  # the pages that belong to it ("/" for the worker space: all others)


def _always(person: Person) -> bool:
    return True


def holds_a_mandate(person: Person) -> bool:
    return Mandate.objects.active().filter(person=person).exists()


def is_an_inspector(person: Person) -> bool:
    # The same rule as inspection.roles.active_role, which guards every page of the space.
    return Inspector.objects.filter(person=person, revoked_at__isnull=True).exists()


# (space, check). Order = order in the header.
SPACES: list[tuple[Space, Callable[[Person], bool]]] = [
    (Space("worker", _("My registrations"), "home", "/"), _always),
    (Space("employer", _("Employer space"), "employer_space:home", "/employer/"), holds_a_mandate),
    (Space("inspector", _("ONSS inspection"), "inspection:search", "/onss/"), is_an_inspector),
]


def spaces_for(person: Person) -> list[Space]:
    """The spaces this person may enter (the worker space always comes first)."""
    if not person.is_authenticated:
        return []
    return [space for space, check in SPACES if check(person)]


def current_space(spaces: list[Space], path: str) -> Space | None:
    """The space a path belongs to: the longest matching prefix."""
    matching = [space for space in spaces if path.startswith(space.path_prefix)]
    return max(matching, key=lambda space: len(space.path_prefix), default=None)


def spaces_named(keys: list[str]) -> list[Space]:
    """The spaces of these keys, in the header's order (unknown keys are ignored)."""
    return [space for space, _check in SPACES if space.key in keys]
