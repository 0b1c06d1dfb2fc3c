from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Person
from accounts.niss import compact_niss

from ...roles import grant


class Command(BaseCommand):
    help = "Grants the ONSS inspector role to a person (by NISS or BIS number) for an office."

    def add_arguments(self, parser):
        parser.add_argument("niss", help="the person's NISS or BIS number")
        parser.add_argument("--office", required=True, help="the inspector's office")
        parser.add_argument("--first-name", default="", help="when the person is not known yet")
        parser.add_argument("--last-name", default="", help="when the person is not known yet")

    def handle(self, niss, office, first_name, last_name, **options):
        try:
            niss = compact_niss(niss)
        except ValidationError as exc:
            raise CommandError(f"not a valid NISS or BIS number: {niss}") from exc
        if not office.strip():
            raise CommandError("--office must not be empty")
        person = Person.objects.filter(niss=niss).first()
        if person is None:
            # The person logs in later through the identity provider, which fills in the rest.
            person = Person.objects.create_user(niss, first_name=first_name, last_name=last_name)
        role = grant(person, office)
        self.stdout.write(f"{person.formatted_niss} is an inspector of {role.office}.")
