from django.contrib.auth.models import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .niss import compact_niss, format_niss, validate_niss


class PersonManager(BaseUserManager):
    def get_by_natural_key(self, niss: str) -> "Person":
        return self.get(niss=niss)

    def create_user(self, niss: str, **fields) -> "Person":
        worker = self.model(niss=compact_niss(niss), **fields)
        # Workers never log in with a password: only through the SAML identity provider.
        worker.set_unusable_password()
        worker.full_clean()
        worker.save()
        return worker


class Person(AbstractBaseUser):
    """The person who logs in (always through the SAML identity provider, by NISS or BIS).

    Roles sit beside the person: a worker has registrations; employer staff hold mandates;
    inspectors hold the inspector role. One person may have several.
    """

    class Language(models.TextChoices):
        FR = "fr", "Français"
        NL = "nl", "Nederlands"
        DE = "de", "Deutsch"
        EN = "en", "English"

    niss = models.CharField(
        _("NISS or BIS number"), max_length=11, unique=True, validators=[validate_niss]
    )
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    # Chosen by the worker in the language menu; wins over everything else.
    language = models.CharField(
        _("preferred language"), max_length=2, choices=Language.choices, blank=True
    )
    # Sent by the identity provider at each login; used when the worker has not chosen.
    idp_language = models.CharField(
        _("language at the identity provider"),
        max_length=2,
        choices=Language.choices,
        blank=True,
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = PersonManager()

    USERNAME_FIELD = "niss"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.formatted_niss

    @property
    def formatted_niss(self) -> str:
        return format_niss(self.niss)

    @property
    def effective_language(self) -> str:
        return self.language or self.idp_language

    def clean(self) -> None:
        if self.niss:
            self.niss = compact_niss(self.niss)


class ConsumedAssertion(models.Model):
    """SAML assertions already used to log in: a second use is a replay and is refused."""

    assertion_id = models.CharField(_("assertion ID"), max_length=200)
    expires_at = models.DateTimeField(_("valid until"))

    class Meta:
        verbose_name = _("consumed assertion")
        verbose_name_plural = _("consumed assertions")
        constraints = [
            models.UniqueConstraint(fields=["assertion_id"], name="consumed_assertion_unique"),
        ]
        indexes = [
            # Serves the pruning of expired entries at each login.
            models.Index(fields=["expires_at"], name="consumed_assertion_expiry"),
        ]

    def __str__(self) -> str:
        return self.assertion_id
