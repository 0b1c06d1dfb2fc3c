"""Growth: a realistic 7-year history loaded with PostgreSQL COPY, and the worker's pages on it.

    .venv/bin/python bench/growth.py --sizes 10000,10000000      # about 15 minutes on 2 cores
    .venv/bin/python bench/growth.py --sizes 10000 --no-docs      # a smoke run

For each size it (re)creates a database `clao_growth_<size>_bench` (a name ending in _bench:
it deletes data), migrates it and loads, with COPY (the history-loading path, see
docs/architecture.md):
- 51,000 workers (valid NISS numbers), 4,000 employers (valid BCE numbers), 1-4 employers per
  worker with a DIMONA contract each;
- registrations over the 7 years before today, month by month in time order (as production
  stores them: one worker's rows are scattered over the table), on working days (Monday to
  Friday, fewer Saturdays), 1-4 per worked day (IN/OUT, a split shift IN/OUT/IN/OUT, now and
  then an IN whose OUT was forgotten), at the sector's hours: offices early in the morning
  (05:30-09:00), homes during the day, offices again in the evening (17:00-21:00); GPS positions
  mostly, Belgian addresses sometimes; 1% of the workers are full-time veterans (about 20% of
  the rows), the others work now and then, so that the total is the size asked for. (51,000
  full-time workers would register some 220 million rows in 7 years: 10 million is a slice.)

Then it adds 20 probe workers with the same history in every size (20 registrations through
register(), 4 of them today), times the day list, the form and the check-in POST of the probes
in-process through ClaO's WSGI application (median of many calls), and records
`EXPLAIN (ANALYZE, BUFFERS)` of each query those pages run, for a probe and for a veteran. It
writes the comparison into docs/benchmarks.md (its own section). --keep keeps the databases
(bench/web.py --reuse can then load them over HTTP).
"""

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.docs import write_section  # noqa: E402
from bench.web import niss_numbers  # noqa: E402

PY = sys.executable
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BRUSSELS = ZoneInfo("Europe/Brussels")
WORKERS = 51_000
EMPLOYERS = 4_000
YEARS = 7
SEED = 20261129
VETERAN_SHARE = 0.01
VETERAN_ROWS_SHARE = 0.20
MEAN_PER_DAY = 2.5
PROBES = 20
CALLS = 150
# The columns COPY fills. A column added to checkins_registration that is NOT NULL without a
# default (e.g. the hash chain of the DB-hardening issue) stops the load: fill it here, by the
# function that computes it, before loading history again.
REGISTRATION_COLUMNS = [
    "worker_id", "kind", "recorded_at", "enterprise_number", "employer_id", "employer_name",
    "ddt_number", "latitude", "longitude", "accuracy_m", "postal_code", "municipality",
    "street", "house_number", "box", "source", "key_scope", "idempotency_key", "acted_by_id",
    "reason",
]  # fmt: skip
STREETS = ["Rue de la Loi", "Avenue Louise", "Kerkstraat", "Chaussée de Wavre", "Stationsstraat"]
ADDRESSES = [("1000", "Bruxelles"), ("9000", "Gent"), ("4000", "Liège"), ("2000", "Antwerpen"),
             ("5000", "Namur"), ("3000", "Leuven"), ("1050", "Ixelles")]  # fmt: skip


def log(message: str) -> None:
    print(f"growth: {message}", file=sys.stderr, flush=True)


def enterprise_numbers(count: int) -> list[str]:
    """Valid BCE/KBO numbers: 0 + 7 digits, then 97 - (those 8 digits mod 97)."""
    numbers = []
    for index in range(count):
        first = f"0{4_100_000 + index * 13:07d}"
        numbers.append(f"{first}{97 - int(first) % 97:02d}")
    return numbers


def working_days(start: date, end: date) -> list[date]:
    days, day = [], start
    while day < end:
        if day.weekday() < 5 or (day.weekday() == 5 and random.random() < 0.3):
            days.append(day)
        day += timedelta(days=1)
    return days


def shift_times(day: date, count: int) -> list[tuple[str, datetime]]:
    """The registrations of one worked day at the sector's hours, as (kind, UTC moment)."""

    def at(hour: float) -> datetime:
        minutes = int(hour * 60) + random.randint(0, 9)
        local = datetime(day.year, day.month, day.day, tzinfo=BRUSSELS) + timedelta(minutes=minutes)
        return local.astimezone(UTC)

    roll = random.random()
    start = (
        5.5 + random.random() * 3.5
        if roll < 0.6
        else (8 + random.random() * 6 if roll < 0.85 else 17 + random.random() * 4)
    )
    length = 2 + random.random() * 2.5
    first = [("IN", at(start)), ("OUT", at(min(start + length, 23.8)))]
    if count == 1:
        return first[:1]
    if count == 2:
        return first
    evening = max(start + length + 1, 17 + random.random() * 3)
    second = [("IN", at(min(evening, 23.0))), ("OUT", at(min(evening + 2 + random.random(), 23.9)))]
    return (first + second)[:count]


def copy_history(cursor, rows: int, workers: int, employers: int) -> dict:
    """Loads persons, employers, contracts and registrations with COPY (the history-loading
    path: no register(), no hash chain yet; see REGISTRATION_COLUMNS)."""
    random.seed(SEED)
    today = date.today()
    start = date(today.year - YEARS, today.month, 1)
    numbers = enterprise_numbers(employers)
    with cursor.copy("COPY employers_employer (country, number, name, link_token) FROM STDIN") as c:
        for index, number in enumerate(numbers):
            c.write_row(("BE", number, f"Nettoyage {index} SRL", f"growth{index:08d}"))
    cursor.execute(
        "SELECT id, number, name FROM employers_employer WHERE number = ANY(%s)", [numbers]
    )
    employer_rows = cursor.fetchall()
    fields = "password, niss, first_name, last_name, language, idp_language, is_active, date_joined"
    with cursor.copy(f"COPY accounts_person ({fields}) FROM STDIN") as c:
        for index, niss in enumerate(niss_numbers(0, workers)):
            c.write_row(
                (
                    "!growth",
                    niss,
                    "Worker",
                    str(index),
                    random.choice(["fr", "fr", "nl", "nl", "de"]),
                    "",
                    True,
                    datetime.now(UTC),
                )
            )
    cursor.execute("SELECT id FROM accounts_person WHERE first_name = 'Worker' ORDER BY id")
    person_ids = [row[0] for row in cursor.fetchall()]
    employers_of = {}
    with cursor.copy(
        "COPY employers_contract (worker_id, employer_id, kind, start_date) FROM STDIN"
    ) as c:
        for person in person_ids:
            count = random.choices([1, 2, 3, 4], weights=[50, 30, 15, 5])[0]
            chosen = random.sample(employer_rows, count)
            employers_of[person] = chosen
            for employer in chosen:
                c.write_row((person, employer[0], "DIMONA", start))

    veterans = set(random.sample(person_ids, max(1, int(len(person_ids) * VETERAN_SHARE))))
    all_days = working_days(start, today)
    veteran_p = min(
        0.85, VETERAN_ROWS_SHARE * rows / (len(veterans) * len(all_days) * MEAN_PER_DAY)
    )
    veteran_rows = veteran_p * len(veterans) * len(all_days) * MEAN_PER_DAY
    others = len(person_ids) - len(veterans)
    other_p = max(0.0, rows - veteran_rows) / (others * len(all_days) * MEAN_PER_DAY)
    log(
        f"{len(all_days)} working days; veterans work {veteran_p:.1%} of them, the others "
        f"{other_p:.2%}"
    )

    counter, months = 0, {}
    for day in all_days:
        months.setdefault((day.year, day.month), []).append(day)
    sql = f"COPY checkins_registration ({', '.join(REGISTRATION_COLUMNS)}) FROM STDIN"
    for (year, month), days in sorted(months.items()):
        batch = []
        for person in person_ids:
            p = veteran_p if person in veterans else other_p
            worked = random.binomialvariate(len(days), p) if p > 0 else 0
            for day in random.sample(days, min(worked, len(days))):
                count = random.choices([1, 2, 3, 4], weights=[5, 65, 5, 25])[0]
                employer = random.choice(employers_of[person])
                gps = random.random() < 0.85
                postal, municipality = random.choice(ADDRESSES)
                source = random.choices(["smartphone", "qr", "badge"], weights=[90, 5, 5])[0]
                for kind, moment in shift_times(day, count):
                    counter += 1
                    if gps:
                        place = (
                            f"{50.4 + random.random() * 0.9:.6f}",
                            f"{3.2 + random.random() * 2.6:.6f}",
                            f"{5 + random.random() * 40:.1f}",
                            "",
                            "",
                            "",
                            "",
                            "",
                        )
                    else:
                        place = (
                            None,
                            None,
                            None,
                            postal,
                            municipality,
                            random.choice(STREETS),
                            str(random.randint(1, 200)),
                            "",
                        )
                    batch.append(
                        (
                            moment,
                            (
                                person,
                                kind,
                                moment.isoformat(),
                                employer[1],
                                employer[0],
                                employer[2],
                                "",
                                *place,
                                source,
                                f"person:{person}",
                                f"history-{counter}",
                                None,
                                "",
                            ),
                        )
                    )
        batch.sort(key=lambda item: item[0])
        with cursor.copy(sql) as c:
            for _moment, row in batch:
                c.write_row(row)
        if month == 1:
            log(f"{year}: {counter:,} registrations so far")
    return {
        "registrations": counter,
        "workers": len(person_ids),
        "employers": len(numbers),
        "veterans": len(veterans),
        "working_days": len(all_days),
    }


def check_columns(cursor) -> None:
    """Refuses to load when the table has a NOT NULL column without default COPY leaves out."""
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = "
        "'checkins_registration' AND is_nullable = 'NO' AND column_default IS NULL"
    )
    missing = sorted({row[0] for row in cursor.fetchall()} - {*REGISTRATION_COLUMNS, "id"})
    if missing:
        raise SystemExit(
            f"growth: checkins_registration has {missing}: bench/growth.py must fill "
            "them (REGISTRATION_COLUMNS) before it loads history"
        )


def build(database_url: str, rows: int, workers: int) -> dict:
    """Creates, migrates and fills one database; returns what was loaded and how long it took."""
    import psycopg

    from bench.web import recreate_database

    recreate_database(database_url)
    env = os.environ | {"DATABASE_URL": database_url, "DEBUG": "1"}
    env.pop("CLAO_DEV_IDP", None)
    subprocess.run(
        [PY, "manage.py", "migrate", "--no-input", "-v0"], cwd=BASE_DIR, env=env, check=True
    )
    started = time.monotonic()
    # As the owner of the tables (the database URL's role): COPY is the history-loading path.
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        check_columns(cursor)
        loaded = copy_history(cursor, rows, workers, EMPLOYERS)
        conn.commit()
    load_seconds = time.monotonic() - started
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        size = conn.execute(
            "SELECT pg_total_relation_size('checkins_registration'), "
            "pg_relation_size('checkins_registration')"
        ).fetchone()
    return loaded | {
        "load_seconds": load_seconds,
        "vacuum_seconds": time.monotonic() - started - load_seconds,
        "total_bytes": size[0],
        "table_bytes": size[1],
    }


def drop_database(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- measuring (runs in a child process per database: python bench/growth.py --measure URL) --


def measure(database_url: str) -> dict:
    os.environ |= {
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": "growth-measure",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_ENGINE": "db",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "clao.settings",
    }
    os.environ.pop("CLAO_DEV_IDP", None)
    import django

    django.setup()
    from urllib.parse import urlencode

    from django.contrib.sessions.backends.db import SessionStore
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from accounts.models import Person
    from bench.profile_requests import environ
    from checkins.models import Registration
    from checkins.services import Place, register

    now = timezone.now()
    local_now = timezone.localtime(now)
    day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = Person.objects.order_by("-pk").values_list("pk", flat=True).first() + 10**6
    probes = []
    for index, niss in enumerate(niss_numbers(offset, PROBES)):
        person = Person.objects.create(
            niss=niss,
            first_name="Probe",
            last_name=str(index),
            language="fr",
            password="!probe",  # noqa: S106 - unusable
        )
        moments = [now - (now - day_start) * (i + 1) / 6 for i in range(4)]
        moments += [now - timedelta(days=1 + i, hours=i % 3) for i in range(16)]
        for n, moment in enumerate(sorted(moments)):
            register(
                worker=person,
                kind="IN" if n % 2 == 0 else "OUT",
                enterprise_number="0450905686" if n % 3 else "0403170701",
                place=Place(
                    postal_code="1000",
                    municipality="Bruxelles",
                    street="Rue de la Loi",
                    house_number=str(n),
                )
                if n % 4 == 0
                else Place(latitude=50.846557, longitude=4.351697, accuracy_m=12.0),
                source="smartphone",
                idempotency_key=f"probe-{n}",
                recorded_at=moment,
            )
        probes.append(person)
    veteran = (
        Person.objects.filter(first_name="Worker")
        .annotate(n=Count("registrations"))
        .order_by("-n")
        .first()
    )

    def login(person) -> str:
        store = SessionStore()
        store.update(
            {
                "_auth_user_id": str(person.pk),
                "_auth_user_backend": "allauth.account.auth_backends.AuthenticationBackend",
                "_auth_user_hash": person.get_session_auth_hash(),
                "clao_authenticated_at": timezone.now().timestamp(),
            }
        )
        store.create()
        return f"sessionid={store.session_key}; csrftoken={'c' * 32}"

    cookies = [login(person) for person in probes]
    veteran_cookie = login(veteran) if veteran else None
    app = WSGIHandler()

    def call(env: dict) -> tuple[int, float]:
        statuses = []
        started = time.perf_counter()
        result = app(env, lambda status, headers: statuses.append(status))
        b"".join(result)
        result.close()
        return int(statuses[0].split()[0]), (time.perf_counter() - started) * 1000

    def checkin(cookie: str) -> dict:
        body = urlencode(
            {
                "csrfmiddlewaretoken": "c" * 32,
                "client_token": str(uuid.uuid4()),
                "kind": "IN",
                "enterprise_number": "0450905686",
                "ddt_choice": "unknown",
                "latitude": "50.846557",
                "longitude": "4.351697",
                "accuracy": "12",
            }
        ).encode()
        return environ("POST", "/registrations/new/", cookie, body)

    pages = {
        "day list": lambda cookie: environ("GET", "/", cookie),
        "form": lambda cookie: environ("GET", "/registrations/new/", cookie),
        "check-in POST": checkin,
    }
    timings, plans = {}, {}
    for name, make in pages.items():
        for index in range(20):
            call(make(cookies[index % len(cookies)]))
        samples = []
        for index in range(CALLS):
            status, ms = call(make(cookies[index % len(cookies)]))
            assert status in (200, 302), (name, status)
            samples.append(ms)
        timings[name] = {
            "median_ms": statistics.median(samples),
            "p90_ms": statistics.quantiles(samples, n=10)[-1],
        }
        for who, cookie in (("probe", cookies[0]), ("veteran", veteran_cookie)):
            if cookie is None:
                continue
            with CaptureQueriesContext(connection) as captured:
                call(make(cookie))
            plans.setdefault(name, {})[who] = explain(connection, captured.captured_queries)
    return {
        "timings": timings,
        "plans": plans,
        "veteran_registrations": veteran.n if veteran else 0,
        "rows": Registration.objects.count(),
    }


def explain(connection, queries: list[dict]) -> list[dict]:
    """EXPLAIN (ANALYZE, BUFFERS) of each query, in a transaction rolled back (the INSERT)."""
    explained = []
    with connection.cursor() as cursor:
        for query in queries:
            sql = query["sql"]
            if sql.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")):
                continue
            statements = [sql]
            if "clao_lock_worker_and_read" in sql:
                # The function's two statements, as it runs them (the plan of the call itself
                # only says "Function Scan").
                worker, scope, key = _function_args(sql)
                # The values come from the query ClaO itself just ran.
                statements = [
                    f"SELECT 1 FROM accounts_person WHERE id = {worker} FOR UPDATE",  # noqa: S608
                    "SELECT * FROM checkins_registration WHERE key_scope = "  # noqa: S608
                    f"'{scope}' AND idempotency_key = '{key}' UNION ALL (SELECT * FROM "
                    f"checkins_registration WHERE worker_id = {worker} ORDER BY recorded_at "
                    "DESC, id DESC LIMIT 1)",
                ]
            if sql.startswith('INSERT INTO "checkins_registration"'):
                # Rolled back, but the key was just used by the call itself: another key.
                statements = [UUID.sub(str(uuid.uuid4()), sql, count=1)]
            for statement in statements:
                cursor.execute("BEGIN")
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
                cursor.execute("ROLLBACK")
                explained.append(
                    {
                        "sql": statement,
                        "plan": plan,
                        "seq_scan_on_registrations": "Seq Scan on checkins_registration" in plan,
                    }
                )
    return explained


def _function_args(sql: str) -> tuple[str, str, str]:
    inside = sql.split("clao_lock_worker_and_read(", 1)[1].rsplit(")", 1)[0]
    worker, scope, key = (part.strip().strip("'") for part in inside.split(",", 2))
    return worker, scope, key


# -- report --


def render(sizes: list[int], built: dict, measured: dict) -> str:
    rows = [
        "| registrations | workers | employers | table + indexes | load (COPY) | VACUUM ANALYZE |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        b = built[size]
        rows.append(
            f"| {b['registrations']:,} | {b['workers']:,} | {b['employers']:,} | "
            f"{b['total_bytes'] / 2**30:.2f} GiB | {b['load_seconds']:.0f} s | "
            f"{b['vacuum_seconds']:.0f} s |"
        )
    small, large = sizes[0], sizes[-1]
    rows += [
        "",
        f"| page (a probe worker, same history in both) | median ms at {small:,} | "
        f"median ms at {large:,} | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    for name in measured[small]["timings"]:
        a = measured[small]["timings"][name]["median_ms"]
        b = measured[large]["timings"][name]["median_ms"]
        ratio = b / a if a else 0
        rows.append(
            f"| {name} | {a:.2f} | {b:.2f} | {ratio:.2f} | "
            f"{'met' if ratio <= 1.2 else 'NOT met'} (≤ 1.2) |"
        )
    return "\n".join(rows)


def document(sizes, built, measured, table: str, load: tuple) -> str:
    large = sizes[-1]
    seq = [
        f"{name} ({who})"
        for name, by_who in measured[large]["plans"].items()
        for who, plans in by_who.items()
        for plan in plans
        if plan["seq_scan_on_registrations"]
    ]
    parts = [
        "## Growth: the worker's pages on 7 years of history (`bench/growth.py`)",
        "",
        f"Recorded {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; load average before the run "
        f"{', '.join(f'{x:.2f}' for x in load)} (other sessions share this 2-core machine).",
        "",
        table,
        "",
        "Timings: ClaO's WSGI application called in-process (as gunicorn calls it, DEBUG off, "
        f"database sessions), {CALLS} calls per page after 20 warm-up calls, spread over "
        f"{PROBES} probe workers who have the same 20 registrations (4 today) in every "
        "database; the check-in POST stores a new IN each time.",
        "",
        f"Sequential scans on checkins_registration at {large:,} rows: "
        + (", ".join(seq) if seq else "**none**")
        + ".",
        "",
        f"The veteran shown below has {measured[large]['veteran_registrations']:,} "
        "registrations (the longest history of the database).",
        "",
        f"### Query plans at {large:,} registrations",
    ]
    for name, by_who in measured[large]["plans"].items():
        for who, plans in by_who.items():
            parts += ["", f"#### {name}, {who}"]
            for plan in plans:
                parts += ["", "```sql", plan["sql"], "```", "", "```", plan["plan"], "```"]
    parts += [
        "",
        "### Rerun",
        "",
        "```sh",
        "bin/ensure-postgres",
        ".venv/bin/python bench/growth.py --sizes 10000,10000000 [--keep]",
        "```",
        "",
        "Each size gets its own database `clao_growth_<size>_bench` (dropped at the end unless "
        "--keep). The loader is the documented history-loading path (docs/architecture.md): "
        "COPY as the owner of the tables, never through the app's role.",
    ]
    return "\n".join(parts)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,10000000")
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--docs-from", help="write docs/benchmarks.md from a --json file")
    args = parser.parse_args(argv)
    if args.docs_from:
        saved = json.loads(Path(args.docs_from).read_text())
        built = {int(k): v for k, v in saved["built"].items()}
        measured = {int(k): v for k, v in saved["measured"].items()}
        sizes = sorted(built)
        table = render(sizes, built, measured)
        write_section(
            "growth",
            document(sizes, built, measured, table, tuple(saved.get("load", (0.0, 0.0, 0.0)))),
        )
        print(table)
        return
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    server = os.environ.get("GROWTH_SERVER_URL", "postgres://postgres@127.0.0.1:5432")
    sizes = [int(size) for size in args.sizes.split(",")]
    load = os.getloadavg()
    built, measured = {}, {}
    for size in sizes:
        url = f"{server}/clao_growth_{size}_bench"
        log(f"building {size:,} registrations in {url}")
        built[size] = build(url, size, args.workers)
        log(f"loaded in {built[size]['load_seconds']:.0f} s; measuring")
        answer = subprocess.run(
            [PY, __file__, "--measure", url], check=True, capture_output=True, text=True
        )
        measured[size] = json.loads(answer.stdout)
        if not args.keep:
            drop_database(url)
    table = render(sizes, built, measured)
    print(table)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"built": built, "measured": measured, "load": load}, indent=2)
        )
    if not args.no_docs:
        write_section("growth", document(sizes, built, measured, table, load))
        log("wrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
