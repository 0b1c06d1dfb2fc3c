"""Loads the demo data: the development IdP's workers, their employers, sites, the demo streets
and registrations.

Idempotent: everything is looked up before it is created. Registrations are a legal,
append-only record stored, like every other, through checkins.services.register(): each has a
deterministic idempotency key in the "demo" scope (uuid5 of the day the data is anchored on,
the worker and the slot), so loading again stores nothing twice.

Today's registrations are placed relative to the moment of loading (RECENT), squeezed into the
time since midnight when the day has just begun: the README's demo works at any hour. Loading
again later re-opens a worker's IN when the demo needs one (Anne-Sophie closed hers with the
quick OUT, or it is older than the open-IN limit).
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from api.credentials import hash_token, issue_credential
from api.models import Device
from checkins.models import Registration
from checkins.partitions import ensure_months
from checkins.rules import open_in_state
from checkins.services import Place, RegistrationRefused, latest_registration, register
from employers.mandates import grant
from employers.models import Contract, Employer, Mandate, WorkDeclaration
from inspection.roles import active_role
from inspection.roles import grant as grant_inspector

from ...people import DEMO_INSPECTOR, DEMO_INSPECTOR_OFFICE, DEMO_PEOPLE, DEMO_STAFF
from ...streets import load_demo_streets

# Demo only: a known token, printed by `make run`, so that the README's simulator command works
# as it is. A real credential's token is random and shown once (manage.py devices create).
DEMO_DEVICE_TOKEN = "clao_demo-badge-reader-not-a-secret"  # noqa: S105
TOKEN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:clao:loaddemo")
# The idempotency scope of the demo's keys: a channel of its own, apart from the workers' forms.
KEY_SCOPE = "demo"

Source = Registration.Source

# (link token, enterprise number, name). The Belgian numbers pass stdnum.be.vat; N.S.I. is the
# example of the manual. The link tokens are fixed so that the README can cite /l/nsi-demo/.
EMPLOYERS = [
    ("nsi-demo", "0450905686", "N.S.I."),
    ("net-propre", "0755123422", "Net & Propre SRL"),
    ("schoonmaak-vlaanderen", "0812345603", "Schoonmaak Vlaanderen BV"),
    ("clean-bruxelles", "0689123434", "Clean Services Bruxelles SA"),
    # Posts Ana to Belgium (LIMOSA): a foreign VAT number, checked by stdnum.ro.
    ("curatenie-ro", "RO18547290", "Curățenie Profesională SRL"),
]

# Declarations of works: DDT number -> employer (link token) and the site.
MIDI, MEIR, LOUISE, VELDSTRAAT = "1Y1002V9KLZ6Z", "1Y1003A8HTX2K", "1Y1004C5GRV9D", "1Y1005D7JWM3B"
SITES = {
    MIDI: (
        "net-propre",
        {"postal_code": "1000", "municipality": "Bruxelles", "street": "Rue du Midi"},
        "100",
        ("50.845060", "4.349540"),
    ),
    MEIR: (
        "schoonmaak-vlaanderen",
        {"postal_code": "2000", "municipality": "Antwerpen", "street": "Meir"},
        "50",
        ("51.218020", "4.409120"),
    ),
    LOUISE: (
        "clean-bruxelles",
        {"postal_code": "1050", "municipality": "Bruxelles", "street": "Avenue Louise"},
        "54",
        ("50.833790", "4.356650"),
    ),
    VELDSTRAAT: (
        "curatenie-ro",
        {"postal_code": "9000", "municipality": "Gent", "street": "Veldstraat"},
        "10",
        ("51.053480", "3.722480"),
    ),
}

# (first name in DEMO_PEOPLE, employer link token, kind, started on 1 September that many years
# ago, ends that many months after today or None). Maria has no employer on purpose; the
# newcomer is not demo data at all.
CONTRACTS = [
    ("Anne-Sophie", "net-propre", Contract.Kind.DIMONA, 3, None),
    ("Jan", "nsi-demo", Contract.Kind.DIMONA, 5, None),
    ("Jan", "schoonmaak-vlaanderen", Contract.Kind.DIMONA, 4, None),
    ("Jan", "clean-bruxelles", Contract.Kind.DIMONA, 2, None),
    # A posting is limited in time.
    ("Ana", "curatenie-ro", Contract.Kind.LIMOSA, 1, 6),
]


@dataclass(frozen=True)
class Gps:
    site: str
    accuracy_m: float


@dataclass(frozen=True)
class Address:
    postal_code: str
    municipality: str
    street: str
    house_number: str = ""
    box: str = ""


def site_address(ddt: str) -> Address:
    _employer, address, house_number, _coords = SITES[ddt]
    return Address(**address, house_number=house_number)


@dataclass(frozen=True)
class Shift:
    person: str
    employer: str
    days_ago: int
    start: time
    end: time | None  # None: still at work. Before start: the shift ends the next day.
    source: str
    ddt: str  # "" = the worker chose "not known"
    place: Gps | Address


SHIFTS = [
    # Anne-Sophie: badge reader, employer application (today's are in RECENT).
    Shift("Anne-Sophie", "net-propre", 2, time(7, 30), time(11, 30), Source.BADGE_READER,
          MIDI, site_address(MIDI)),
    Shift("Anne-Sophie", "net-propre", 1, time(8), time(12), Source.EMPLOYER_APP,
          MIDI, site_address(MIDI)),
    # Jan: two employers in one day, then a night shift for the third one that ends yesterday
    # morning, so that yesterday's list shows which IN its OUT closes at any hour of today.
    Shift("Jan", "schoonmaak-vlaanderen", 2, time(6), time(10), Source.QR_CODE,
          MEIR, Gps(MEIR, 8.0)),
    Shift("Jan", "clean-bruxelles", 2, time(14), time(18), Source.SMARTPHONE,
          "", Gps(LOUISE, 25.0)),
    Shift("Jan", "nsi-demo", 2, time(22), time(6), Source.ONSS_APP,
          "", Address("1060", "Saint-Gilles", "Place Victor Horta", "11")),
    # Ana: refused the GPS position one day and typed the address in.
    Shift("Ana", "curatenie-ro", 2, time(7), time(15), Source.SMARTPHONE,
          VELDSTRAAT, Gps(VELDSTRAAT, 15.0)),
    Shift("Ana", "curatenie-ro", 1, time(7), time(15), Source.SMARTPHONE,
          "", site_address(VELDSTRAAT)),
]  # fmt: skip


@dataclass(frozen=True)
class Recent:
    """A job of today, placed relative to the moment of loading: it started `start` ago and
    ended `end` ago (None: still at work, an open IN for the quick OUT)."""

    person: str
    employer: str
    start: timedelta
    end: timedelta | None
    source: str
    ddt: str
    place: Gps | Address


RECENT = [
    # Anne-Sophie today: three short jobs, so that her list shows every way a registration
    # arrives, the last one still going on ("Vous arrêtez de travailler ?").
    Recent("Anne-Sophie", "net-propre", timedelta(hours=2, minutes=45), timedelta(hours=2),
           Source.BADGE_READER, MIDI, site_address(MIDI)),
    Recent("Anne-Sophie", "net-propre", timedelta(hours=1, minutes=45), timedelta(hours=1),
           Source.EMPLOYER_APP, MIDI, site_address(MIDI)),
    Recent("Anne-Sophie", "net-propre", timedelta(minutes=45), None, Source.SMARTPHONE,
           MIDI, Gps(MIDI, 12.0)),
    # Ana scanned the poster of her site this morning.
    Recent("Ana", "curatenie-ro", timedelta(hours=1, minutes=30), None, Source.QR_CODE,
           VELDSTRAAT, Gps(VELDSTRAAT, 9.0)),
]  # fmt: skip
# Whoever is at work in the demo: when loading again finds no open IN, one is opened anew.
AT_WORK = {recent.person: recent for recent in RECENT if recent.end is None}
# How long before the moment of loading a re-opened IN is placed.
REOPENED = timedelta(minutes=5)


@dataclass(frozen=True)
class Planned:
    """One registration of a shift, before it is stored."""

    shift: "Shift | Recent"
    worker: object
    kind: str
    moment: datetime
    day: date  # the local day that decides whether it loads
    key: str


def parse_day(value: str | date) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--today: expected YYYY-MM-DD, got {value!r}") from exc


class Command(BaseCommand):
    help = "Loads the demo workers, employers, declarations of works and registrations."

    def add_arguments(self, parser):
        parser.add_argument(
            "--today",
            help="The day the registrations are relative to, YYYY-MM-DD (default: today in "
            "Europe/Brussels).",
        )

    def handle(self, *args, today=None, **options):
        # Demo registrations cannot be removed once stored: keep them out of real databases.
        if not settings.CLAO_DEV_IDP:
            raise CommandError("loaddemo only runs with the development IdP (CLAO_DEV_IDP=1).")
        self.tz = timezone.get_default_timezone()
        self.now = timezone.now()
        self.today = parse_day(today) if today else timezone.localdate(self.now)
        if today:
            # Another day: the same wall-clock time on that day, never later than now.
            moment = datetime.combine(
                self.today,
                timezone.localtime(self.now).time().replace(microsecond=0),
                tzinfo=self.tz,
            )
            self.now = min(self.now, moment)
        with transaction.atomic():
            workers = self.load_workers()
            employers = self.load_employers()
            self.load_sites(employers)
            self.load_contracts(workers, employers)
            self.load_staff(employers)
            self.stdout.write(f"Demo streets: {load_demo_streets()} created")
            self.load_registrations(workers, employers)
            self.load_device(employers)
            self.load_inspector()
        self.stdout.write("Personalised links:")
        for token, _number, name in EMPLOYERS:
            self.stdout.write(f"  /l/{token}/  {name}")
        self.stdout.write(
            f"Demo badge reader (N.S.I., sends for every demo employer): token {DEMO_DEVICE_TOKEN}"
        )

    def load_device(self, employers: dict) -> None:
        """A badge reader of N.S.I. with a known token, for the README's integrator steps."""
        if Device.objects.filter(token_hash=hash_token(DEMO_DEVICE_TOKEN)).exists():
            self.report("Demo badge reader", 0, 1)
            return
        owner = employers["nsi-demo"]
        others = [e for e in employers.values() if e != owner]
        issue_credential(owner, "Demo badge reader", others, token=DEMO_DEVICE_TOKEN)
        self.report("Demo badge reader", 1, 1)

    def report(self, what: str, created: int, total: int) -> None:
        self.stdout.write(f"{what}: {created} created, {total - created} already there")

    def load_workers(self) -> dict:
        worker_model = get_user_model()
        workers, created = {}, 0
        for person in DEMO_PEOPLE:
            worker = worker_model.objects.filter(niss=person["niss"]).first()
            if worker is None:
                worker = worker_model.objects.create_user(**person)
                created += 1
            workers[person["first_name"]] = worker
        self.report("Workers", created, len(workers))
        return workers

    def load_staff(self, employers: dict[str, Employer]) -> None:
        """One access manager per demo employer (the employer space)."""
        created = 0
        for person in DEMO_STAFF:
            employer = employers[person["employer"]]
            fields = {k: v for k, v in person.items() if k != "employer"}
            staff = get_user_model().objects.filter(niss=person["niss"]).first()
            if staff is None:
                staff = get_user_model().objects.create_user(**fields)
            if not Mandate.objects.active().filter(person=staff, employer=employer).exists():
                grant(
                    employer=employer,
                    niss=staff.niss,
                    role=Mandate.Role.ACCESS_MANAGER,
                    granted_by=None,
                )
                created += 1
        self.report("Access managers", created, len(DEMO_STAFF))

    def load_inspector(self) -> None:
        """The demo ONSS inspector, with the role granted as the grant_inspector command does."""
        person_model = get_user_model()
        person = person_model.objects.filter(niss=DEMO_INSPECTOR["niss"]).first()
        if person is None:
            fields = {k: v for k, v in DEMO_INSPECTOR.items() if k != "office"}
            person = person_model.objects.create_user(**fields)
        created = active_role(person) is None
        grant_inspector(person, DEMO_INSPECTOR_OFFICE)
        self.report("Inspectors", int(created), 1)

    def load_employers(self) -> dict[str, Employer]:
        employers, created = {}, 0
        for token, number, name in EMPLOYERS:
            employer = Employer.objects.filter(link_token=token).first()
            if employer is None:
                employer = Employer(number=number, name=name, link_token=token)
                # Validates the number with stdnum and stores it compact.
                employer.full_clean()
                employer.save()
                created += 1
            employers[token] = employer
        self.report("Employers", created, len(employers))
        return employers

    def load_sites(self, employers: dict[str, Employer]) -> None:
        created = 0
        for number, (employer, address, house_number, (lat, lon)) in SITES.items():
            if WorkDeclaration.objects.filter(number=number).exists():
                continue
            declaration = WorkDeclaration(
                number=number,
                employer=employers[employer],
                house_number=house_number,
                latitude=Decimal(lat),
                longitude=Decimal(lon),
                **address,
            )
            declaration.full_clean()
            declaration.save()
            created += 1
        self.report("Declarations of works", created, len(SITES))

    def load_contracts(self, workers: dict, employers: dict[str, Employer]) -> None:
        created = 0
        for person, employer, kind, years_before, months_after in CONTRACTS:
            # Relative to the first load only: a later run finds the contract and keeps it.
            _contract, new = Contract.objects.get_or_create(
                worker=self.worker(workers, person),
                employer=employers[employer],
                kind=kind,
                defaults={
                    "start_date": date(self.today.year - years_before, 9, 1),
                    "end_date": self.today + timedelta(days=30 * months_after)
                    if months_after
                    else None,
                },
            )
            created += new
        self.report("Contracts", created, len(CONTRACTS))

    def worker(self, workers: dict, first_name: str):
        try:
            return workers[first_name]
        except KeyError:
            raise CommandError(f"{first_name} is no longer in demo.people.DEMO_PEOPLE") from None

    def load_registrations(self, workers: dict, employers: dict[str, Employer]) -> None:
        plan = [
            planned
            for shift in SHIFTS
            for planned in self.registrations(shift, self.worker(workers, shift.person))
        ] + self.recent_registrations(workers)
        keys = {planned.key for planned in plan}
        existing = set(
            Registration.objects.filter(key_scope=KEY_SCOPE, idempotency_key__in=keys).values_list(
                "idempotency_key", flat=True
            )
        )
        created = skipped = 0
        if plan:
            # History: its months must exist before it is stored (PostgreSQL's partitions).
            ensure_months(min(planned.moment for planned in plan))
        for planned in plan:
            if planned.key in existing:
                continue
            # A day that already holds this worker's registrations from elsewhere (an earlier
            # load anchored on another day, or the app itself) is left as it is, so that
            # loading again tomorrow does not give today two morning arrivals.
            elsewhere = (
                Registration.objects.filter(worker=planned.worker)
                .on_local_day(planned.day)
                .exclude(key_scope=KEY_SCOPE, idempotency_key__in=keys)
            )
            if elsewhere.exists():
                skipped += 1
                continue
            shift = planned.shift
            try:
                stored = register(
                    worker=planned.worker,
                    kind=planned.kind,
                    enterprise_number=employers[shift.employer].number,
                    place=self.place(shift.place, planned.kind),
                    source=shift.source,
                    idempotency_key=planned.key,
                    key_scope=KEY_SCOPE,
                    ddt_number=shift.ddt,
                    recorded_at=planned.moment,
                )
            except RegistrationRefused as exc:
                raise CommandError(f"{shift}: refused ({exc.code}): {exc.message}") from exc
            created += stored.created
        created += self.reopen(workers, employers)
        self.stdout.write(
            f"Registrations: {created} created, {len(existing)} already there"
            + (f", {skipped} left out (day already has registrations)" if skipped else "")
            + f", relative to {self.today.isoformat()}"
        )

    def registrations(self, shift: Shift, worker) -> list["Planned"]:
        """The IN (and OUT) of a shift, each with the local day that decides whether it loads."""
        day = self.today - timedelta(days=shift.days_ago)
        moments = [(Registration.Kind.IN, datetime.combine(day, shift.start, tzinfo=self.tz))]
        if shift.end is not None:
            end_day = day + timedelta(days=1) if shift.end < shift.start else day
            moments.append(
                (Registration.Kind.OUT, datetime.combine(end_day, shift.end, tzinfo=self.tz))
            )
        result = []
        for kind, moment in moments:
            if moment > self.now:
                # Nobody registers in the future: a morning load skips the afternoon.
                continue
            key = uuid.uuid5(
                TOKEN_NAMESPACE,
                f"{self.today.isoformat()}/{worker.niss}/{moment.isoformat()}/{kind}",
            )
            # The night shift's OUT goes with its IN: both are judged on the day it started.
            result.append(Planned(shift, worker, kind, moment, day, str(key)))
        return result

    def recent_registrations(self, workers: dict) -> list[Planned]:
        """Today's jobs, before the moment of loading. Early in the day they are squeezed
        into the time since midnight, in the same order, so that they stay on today's list."""
        midnight = datetime.combine(self.today, time.min, tzinfo=self.tz)
        since_midnight = self.now - midnight
        longest = max(recent.start for recent in RECENT) + timedelta(minutes=1)
        scale = min(1.0, since_midnight / longest)
        result = []
        for index, recent in enumerate(RECENT):
            worker = self.worker(workers, recent.person)
            moments = [(Registration.Kind.IN, recent.start)]
            if recent.end is not None:
                moments.append((Registration.Kind.OUT, recent.end))
            for kind, before in moments:
                moment = (self.now - before * scale).replace(microsecond=0)
                key = uuid.uuid5(
                    TOKEN_NAMESPACE, f"{self.today.isoformat()}/{worker.niss}/recent/{index}/{kind}"
                )
                result.append(Planned(recent, worker, kind, moment, self.today, str(key)))
        return result

    def reopen(self, workers: dict, employers: dict[str, Employer]) -> int:
        """An IN at work again for whoever the demo shows at work but has no open IN now."""
        created = 0
        for person, recent in AT_WORK.items():
            worker = self.worker(workers, person)
            if open_in_state(latest_registration(worker), self.now).is_open:
                continue
            moment = (self.now - REOPENED).replace(second=0, microsecond=0)
            key = uuid.uuid5(TOKEN_NAMESPACE, f"reopen/{worker.niss}/{moment.isoformat()}")
            try:
                stored = register(
                    worker=worker,
                    kind=Registration.Kind.IN,
                    enterprise_number=employers[recent.employer].number,
                    place=self.place(recent.place, Registration.Kind.IN),
                    source=Source.SMARTPHONE,
                    idempotency_key=str(key),
                    key_scope=KEY_SCOPE,
                    ddt_number=recent.ddt,
                    recorded_at=max(moment, self.latest_moment(worker)),
                )
            except RegistrationRefused as exc:
                raise CommandError(f"{recent}: refused ({exc.code}): {exc.message}") from exc
            created += stored.created
        return created

    def latest_moment(self, worker) -> datetime:
        """Just after the worker's latest registration: a re-opened IN comes after it."""
        latest = latest_registration(worker)
        if latest is None:
            return datetime.min.replace(tzinfo=self.tz)
        return min(self.now, latest.recorded_at + timedelta(seconds=1))

    @staticmethod
    def place(place: Gps | Address, kind: str) -> Place:
        if isinstance(place, Address):
            return Place(
                postal_code=place.postal_code,
                municipality=place.municipality,
                street=place.street,
                house_number=place.house_number,
                box=place.box,
            )
        lat, lon = (Decimal(value) for value in SITES[place.site][3])
        # A phone never reports twice the same position: leaving is a few metres off.
        shift = Decimal("0.000040") if kind == Registration.Kind.OUT else Decimal("0.000012")
        return Place(latitude=lat + shift, longitude=lon - shift, accuracy_m=place.accuracy_m)
