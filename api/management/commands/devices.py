"""Device credentials of the web service, from the command line (the employer space offers the
same through api.credentials):

    manage.py devices create --owner 0450.905.686 --label "Entrance reader" [--may-send-for N ...]
    manage.py devices list [--owner N]
    manage.py devices revoke ID
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from api.credentials import issue_credential, revoke_credential
from api.models import Device
from employers.models import Employer
from employers.numbers import parse_enterprise_number


def employer(number: str) -> Employer:
    try:
        parsed = parse_enterprise_number(number).number
    except ValidationError as exc:
        raise CommandError(f"{number}: {exc.messages[0]}") from exc
    found = Employer.objects.filter(number=parsed).first()
    if found is None:
        raise CommandError(f"{number}: no employer with this number is known to ClaO")
    return found


class Command(BaseCommand):
    help = "Creates, lists and revokes the device credentials of the presence-registration API."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="issue a credential; prints its token once")
        create.add_argument("--owner", required=True, help="enterprise number of the employer")
        create.add_argument("--label", required=True, help="e.g. where the reader hangs")
        create.add_argument(
            "--may-send-for",
            nargs="*",
            default=[],
            metavar="NUMBER",
            help="other employers whose registrations it may send (the owner always may)",
        )
        listing = actions.add_parser("list", help="list credentials (never their tokens)")
        listing.add_argument("--owner", help="only this employer's")
        revoke = actions.add_parser("revoke", help="revoke a credential: its token gets 401")
        revoke.add_argument("id", type=int)

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, owner, label, may_send_for, **_options):
        device, token = issue_credential(
            employer(owner), label, [employer(n) for n in may_send_for]
        )
        numbers = ", ".join(sorted(e.display_number for e in device.may_send_for.all()))
        self.stdout.write(f"Device {device.pk} ({device.label}) may send for: {numbers}")
        self.stdout.write("Token (shown once; keep it in the device's configuration):")
        self.stdout.write(token)

    def _list(self, owner=None, **_options):
        devices = Device.objects.select_related("owner").prefetch_related("may_send_for")
        if owner:
            devices = devices.filter(owner=employer(owner))
        for device in devices:
            state = (
                f"revoked {timezone.localtime(device.revoked_at):%Y-%m-%d %H:%M}"
                if device.revoked_at
                else "active"
            )
            used = (
                f"{timezone.localtime(device.last_used_at):%Y-%m-%d %H:%M}"
                if device.last_used_at
                else "never"
            )
            numbers = ",".join(sorted(e.number for e in device.may_send_for.all()))
            self.stdout.write(
                f"{device.pk}\t{device.owner.display_number}\t{device.label}\t"
                f"{device.token_prefix}…\t{state}\tlast used: {used}\tmay send for: {numbers}"
            )

    def _revoke(self, id, **_options):  # noqa: A002 (the argument's name)
        device = Device.objects.filter(pk=id).first()
        if device is None:
            raise CommandError(f"no device credential {id}")
        revoke_credential(device)
        self.stdout.write(f"Device {device.pk} ({device.label}) revoked: its token gets 401.")
