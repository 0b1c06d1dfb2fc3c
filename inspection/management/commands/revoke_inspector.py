from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Person
from accounts.niss import compact_niss

from ...roles import revoke


class Command(BaseCommand):
    help = "Revokes the ONSS inspector role of a person (by NISS or BIS number)."

    def add_arguments(self, parser):
        parser.add_argument("niss", help="the person's NISS or BIS number")

    def handle(self, niss, **options):
        try:
            niss = compact_niss(niss)
        except ValidationError as exc:
            raise CommandError(f"not a valid NISS or BIS number: {niss}") from exc
        person = Person.objects.filter(niss=niss).first()
        if person is None or not revoke(person):
            raise CommandError(f"{niss} holds no inspector role")
        self.stdout.write(f"{person.formatted_niss} is no longer an inspector.")
