"""Sets an access manager of an enterprise: how the first one gets in.

    manage.py grant_access_manager 0450.905.686 85.07.30-033.28 --name "N.S.I."

The enterprise is created when unknown (then --name is required). Later access managers and
users are granted in the employer space by an access manager.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from employers.mandates import MandateRefused, grant
from employers.models import Employer, Mandate
from employers.numbers import parse_enterprise_number


class Command(BaseCommand):
    help = "Grants the access-manager role of an enterprise to a NISS/BIS number."

    def add_arguments(self, parser):
        parser.add_argument("enterprise_number", help="BCE/KBO number or foreign VAT number")
        parser.add_argument("niss", help="NISS or BIS number of the access manager")
        parser.add_argument("--name", default="", help="the enterprise's name, if it is new")

    def handle(self, *args, enterprise_number, niss, name, **options):
        try:
            parsed = parse_enterprise_number(enterprise_number)
        except ValidationError as exc:
            raise CommandError(f"{enterprise_number}: {exc.messages[0]}") from exc
        employer = Employer.objects.filter(number=parsed.number).first()
        if employer is None:
            if not name.strip():
                raise CommandError(f"{parsed.display} is not known yet: give its name with --name.")
            employer = Employer.objects.create(
                country=parsed.country, number=parsed.number, name=name.strip()
            )
            self.stdout.write(f"Enterprise created: {employer}")
        try:
            mandate = grant(
                employer=employer, niss=niss, role=Mandate.Role.ACCESS_MANAGER, granted_by=None
            )
        except MandateRefused as refused:
            raise CommandError(f"{niss}: {refused.message}") from refused
        self.stdout.write(f"Access manager of {employer}: {mandate.person.formatted_niss}")
