"""The web benchmark: ClaO's worker pages against a bare Django view, side by side, one run.

    make bench                                   # or: .venv/bin/python bench/web.py
    .venv/bin/python bench/web.py --seconds 2 --rate-seconds 2 --no-docs   # a smoke run

What it does, in order:
1. (Re)creates the PostgreSQL database of DATABASE_URL (default .../clao_bench; any name not
   ending in "_bench" is refused: it deletes data), migrates it and seeds it without the IdP:
   an employer, workers with sessions minted directly in the session store (logged in "now",
   so the 6-hour rule holds), workers with a day of 4 registrations and a history (stored
   through register(), the history-loading path), streets of 1000 Bruxelles.
2. Starts gunicorn servers with gunicorn.conf.py, as the Docker image runs it (DEBUG off,
   static files collected, same WEB_CONCURRENCY): ClaO (clao.wsgi), the bare view
   (bench/bare.py) and, unless --no-floor, the stack's floor (bench/floor.py: the check-in's
   POST to a view that does nothing, to one that only stores through register(), and to that
   one behind only the middleware a check-in needs), on loopback ports.
3. Loads them from separate processes: wrk (Debian's package, installed with apt-get when
   missing) with bench/wrk/clao.lua for each target, one after the other, the bare view first
   and last; then bench/api_load.py sends badge readers' batches of 200 swipes to
   /api/v1/presence-registrations (one reader per connection, each waiting for its answer,
   with a device credential of the seed) and measures each batch; then bench/openloop.py sends
   check-ins at a fixed rate (170/s: five times the sector's peak) and measures their latency
   from the moment each was due.
4. Checks that every acknowledged check-in (a 302 to /registrations/<id>/) is one stored row,
   and every swipe a batch's answer says created is one stored row.
5. Prints the table and writes it into docs/benchmarks.md (its own section), with the machine,
   its load average and how to rerun.

Targets (issue 12): check-in POST >= 0.12 x the bare view's req/s, day list >= 0.10 x,
form >= 0.06 x, p99 of the check-in <= 50 ms at 170 check-ins/s offered. Issue 13: a batch
of 200 swipes stored within 300 ms at the 50th percentile.
"""

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench import cpu  # noqa: E402
from bench.docs import write_section  # noqa: E402
from bench.sessions import login_key, session_data  # noqa: E402

PY = sys.executable
LUA = BASE_DIR / "bench" / "wrk" / "clao.lua"
FLOOR_APP = "bench.floor:application"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/clao_bench"
NSI_NUMBER = "0450905686"
TARGETS = [
    # key, label, target ratio to the bare view (None: reported only)
    ("checkin", "check-in POST `/registrations/new/` (IN with GPS, fresh token)", 0.12),
    ("quickout", "quick OUT POST `/registrations/quick-out/` (closes the open IN)", None),
    ("daylist", "day list GET `/` (4 registrations that day)", 0.10),
    ("form", "form GET `/registrations/new/` (worker with a history)", 0.06),
    ("streets", "street suggestion GET `/geo/streets/?street=rue&postal_code=1000` (htmx)", None),
]
# bench/floor.py: the check-in's request to views that do less (key, label, path). Reported
# only: the check-in's ratio cannot exceed the store's.
FLOORS = [
    (
        "floor_noop",
        "floor: the check-in's POST answered by a redirect, nothing else (ClaO's middleware)",
        "/floor/noop/",
    ),
    (
        "floor_store",
        "floor: the check-in's POST that only stores the IN (`register()`, no form, no rate limit)",
        "/floor/store/",
    ),
    (
        "floor_lean_store",
        "floor: the same through only the middleware a check-in needs",
        "/floor/lean/store/",
    ),
]
RATE_TARGET_MS = 50.0
API_BATCH_TARGET_MS = 300.0
API_WORKERS_PER_READER = 100


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="wrk duration per target")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--workers",
        type=int,
        # One more than the CPUs: a sync worker waits for PostgreSQL (each check-in ~3 ms for
        # its commit to reach the disk), during which the extra one uses the CPU. Twice the
        # CPUs made the pages that only compute (the day list) about 10% slower on 2 CPUs.
        default=(os.cpu_count() or 1) + 1,
        help="gunicorn WEB_CONCURRENCY (default: the CPUs + 1)",
    )
    parser.add_argument("--rate", type=float, default=170, help="open-loop check-ins per second")
    parser.add_argument("--rate-seconds", type=float, default=20)
    parser.add_argument(
        "--port", type=int, default=8190, help="ClaO; the bare view: port + 1; 0: any free ports"
    )
    parser.add_argument(
        "--sessions",
        choices=["db", "cache"],
        default="cache",
        help="session store: cache = Redis (CACHE_URL), as production runs it",
    )
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database's data (e.g. the growth history) and add the bench's workers to it",
    )
    parser.add_argument("--day-workers", type=int, default=100)
    parser.add_argument(
        "--api-connections",
        type=int,
        default=1,
        help="badge readers sending batches at once (1: the issue's measure, a batch alone)",
    )
    parser.add_argument(
        "--api-seconds", type=float, default=None, help="badge readers' run (default: --seconds)"
    )
    parser.add_argument(
        "--no-floor", action="store_true", help="skip bench/floor.py's views (the stack's floor)"
    )
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--section", default="web", help="the section of docs/benchmarks.md")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    return parser.parse_args(argv)


def server_env(args, database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CLAO_DEV_IDP", "DEBUG")}
    env |= {
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + secrets.token_hex(16),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
        # The badge readers' load sends more batches than a reader's rate limit allows.
        "CLAO_API_RATE": "100000/m",
        "WEB_CONCURRENCY": str(args.workers),
        "SESSION_ENGINE": args.sessions,
        "CACHE_URL": args.cache_url if args.sessions == "cache" else "locmem://",
        # A run of its own in the shared Redis: another run's sessions and rate-limit counters
        # (same user ids in another _bench database) must not count here.
        "CACHE_KEY_PREFIX": "bench-" + secrets.token_hex(4),
        # A few seeded workers send every suggestion request: a person's limit (120/m) would
        # answer 429 after a second. The counters still run; only the ceiling is out of reach.
        "CLAO_RATE_SUGGESTIONS": "1000000/m",
        # Likewise the quick OUT when the check-in run left fewer open INs than wrk sends quick
        # OUTs (a short run on a busy machine): a worker's repeats (10/m) would answer 429.
        "CLAO_RATE_QUICK_OUT": "1000000/m",
        "DJANGO_SETTINGS_MODULE": "clao.settings",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return env


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing wrk with apt-get")
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, capture_output=True
        )
        return shutil.which("wrk") or "wrk"
    raise SystemExit("bench: wrk is missing (Debian: sudo apt-get install wrk)")


def recreate_database(database_url: str) -> None:
    import psycopg

    parts = urlparse(database_url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def ensure_database(database_url: str) -> None:
    import psycopg

    parts = urlparse(database_url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def niss_numbers(start: int, count: int) -> list[str]:
    """Valid NISS numbers (born 1950-1999): birth date, serial, check digits mod 97."""
    numbers, index = [], start
    while len(numbers) < count:
        born = date(1950, 1, 1) + timedelta(days=index // 400)
        serial = index % 400 * 2 + 1
        first = f"{born:%y%m%d}{serial:03d}"
        numbers.append(f"{first}{97 - int(first) % 97:02d}")
        index += 1
    return numbers


def seed(args, pool_size: int) -> dict:
    """Workers and sessions for each target; returns the data files' rows and the day shown."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from accounts.models import Person
    from api.credentials import issue_credential
    from checkins.services import Place, register
    from employers.models import Contract, Employer
    from geo.models import PostalCode, Street
    from geo.text import search_key

    nsi, _ = Employer.objects.get_or_create(number=NSI_NUMBER, defaults={"name": "N.S.I."})
    other, _ = Employer.objects.get_or_create(
        number="0403170701", defaults={"name": "Net & Propre SRL"}
    )
    offset = (Person.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 10**6
    api_count = args.api_connections * API_WORKERS_PER_READER
    niss = niss_numbers(offset, pool_size + args.day_workers + api_count)
    people = Person.objects.bulk_create(
        Person(
            niss=number,
            first_name="Bench",
            last_name=str(index),
            language="fr",
            password=make_password(None),
        )
        for index, number in enumerate(niss)
    )
    pool = people[:pool_size]
    day_workers = people[pool_size : pool_size + args.day_workers]
    api_workers = niss[pool_size + args.day_workers :]
    # The badge readers' credential (shown once, as the employer space does).
    _device, api_token = issue_credential(nsi, f"bench reader {secrets.token_hex(3)}")
    Contract.objects.bulk_create(
        Contract(
            worker=person,
            employer=employer,
            kind="DIMONA",
            start_date=date.today() - timedelta(days=400),
        )
        for person in day_workers
        for employer in (nsi, other)
    )

    now = timezone.now()

    def mint(persons) -> list[str]:
        if settings.SESSION_ENGINE.endswith(".db"):
            encoder = DbSessionStore()
            keys = [secrets.token_hex(16) for _ in persons]
            Session.objects.bulk_create(
                Session(
                    session_key=key,
                    session_data=encoder.encode(session_data(person, now)),
                    expire_date=now + timedelta(hours=24),
                )
                for key, person in zip(keys, persons, strict=True)
            )
            return keys
        return [login_key(person) for person in persons]

    pool_keys, day_keys = mint(pool), mint(day_workers)

    # A day of 4 registrations, and 16 earlier ones over three weeks (addresses, DDT numbers):
    # stored through register() with recorded_at, the history-loading path.
    local_now = timezone.localtime(now)
    day = local_now.date() if local_now.hour >= 5 else local_now.date() - timedelta(days=1)
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=local_now.tzinfo)
    day_end = min(local_now - timedelta(minutes=10), day_start + timedelta(hours=20))
    step = (day_end - day_start - timedelta(minutes=30)) / 4
    for person in day_workers:
        times = [day_start + timedelta(minutes=30) + step * i for i in range(4)]
        times += [day_start - timedelta(days=1 + i, hours=-7 + i % 3) for i in range(16)]
        for index, moment in enumerate(sorted(times)):
            address = index % 3 == 0
            register(
                worker=person,
                kind="IN" if index % 2 == 0 else "OUT",
                enterprise_number=NSI_NUMBER if index % 4 < 2 else "0403170701",
                ddt_number="" if index % 5 else f"1Y1002V9KLZ{index:02d}",
                place=Place(
                    postal_code="1000",
                    municipality="Bruxelles",
                    street=f"Rue de la Loi {index % 5}",
                    house_number=str(index),
                )
                if address
                else Place(latitude=50.846557, longitude=4.351697, accuracy_m=12.0),
                source="smartphone",
                idempotency_key=f"bench-history-{person.pk}-{index}",
                recorded_at=moment,
            )

    municipality = PostalCode.objects.filter(code="1000").first().municipality
    kinds = ["Rue", "Avenue", "Place", "Chaussée", "Boulevard", "Rue du", "Rue de la"]
    names = [f"{kinds[i % len(kinds)]} Bench {i}" for i in range(300)]
    Street.objects.bulk_create(
        (
            Street(
                municipality=municipality,
                name=name,
                search_name=search_key(name),
                language="fr",
                source=Street.Source.OFFICIAL,
            )
            for name in names
        ),
        ignore_conflicts=True,
    )
    return {
        "pool": pool_keys,
        "day": day_keys,
        "day_query": "" if day == local_now.date() else f"?date={day.isoformat()}",
        "api_token": api_token,
        "api_workers": api_workers,
    }


def analyze() -> None:
    """Statistics for the freshly seeded tables, as a database in service has them. Without
    them the planner takes the new tables for nearly empty (the day list's query then walks
    every registration, 10 times slower) until autovacuum happens to analyze them mid-run."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def latest_open_ins(pool_keys: list[str]) -> list[str]:
    """Rows "session<TAB>id of the open IN" for the quick OUT: the latest IN of each worker."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    from checkins.models import Registration

    store_class = import_string(settings.SESSION_ENGINE + ".SessionStore")
    by_worker = {}
    for key in pool_keys:
        by_worker[int(store_class(session_key=key).load()["_auth_user_id"])] = key
    latest = (
        Registration.objects.filter(worker_id__in=list(by_worker))
        .order_by("worker_id", "-recorded_at", "-pk")
        .distinct("worker_id")
        .values_list("worker_id", "pk", "kind")
    )
    return [f"{by_worker[worker]}\t{pk}" for worker, pk, kind in latest if kind == "IN"]


def settle(seconds: float = 30) -> None:
    """Waits until the servers are idle: a gunicorn worker boots (imports Django and ClaO,
    about a second of CPU) after its server listens, and the warm-up's last requests may still
    be running. Measured during the bare view's run, that CPU would lower its req/s."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = cpu.snapshot()
        time.sleep(0.5)
        spent = cpu.spent(before, cpu.snapshot())
        if spent["gunicorn"] + spent["other"] < 0.05:
            return


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, name: str, app: str, port: int, env: dict, logdir: Path) -> None:
        self.name, self.port = name, port
        self.log = open(logdir / f"{name}.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [str(Path(PY).parent / "gunicorn"), "-c", "gunicorn.conf.py", app],
            cwd=BASE_DIR,
            env=env | {"GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=subprocess.DEVNULL,  # the access log: one line per request, not kept
            stderr=self.log,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: {self.name} did not start, see {self.log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"bench: {self.name} not listening on {self.port}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def run_wrk(
    wrk: str, args, target: str, port: int, data: Path, extra: dict, workdir: Path, app: str = ""
):
    out = workdir / f"{target}-{time.monotonic_ns()}.json"
    env = (
        os.environ
        | extra
        | {
            "BENCH_TARGET": target,
            "BENCH_DATA": str(data),
            "BENCH_THREADS": str(args.threads),
            "BENCH_OUT": str(out),
        }
    )
    before, children_before = cpu.snapshot(), cpu.children()
    done = subprocess.run(
        [
            wrk,
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{max(1, round(args.seconds))}s",
            "--timeout",
            "5s",
            "-s",
            str(LUA),
            f"http://127.0.0.1:{port}/",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    spent = cpu.spent(before, cpu.snapshot(), app or None)
    # wrk has exited by now: its CPU is in this process's children's usage.
    spent["load"] += cpu.children() - children_before
    if done.returncode != 0 or not out.exists():
        raise SystemExit(f"bench: wrk failed on {target}: {done.stderr or done.stdout}")
    result = json.loads(out.read_text())
    seconds = result["duration_us"] / 1e6
    errors = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "requests": result["requests"],
        "rps": result["requests"] / seconds if seconds else 0.0,
        "p50_ms": result["p50_us"] / 1000,
        "p95_ms": result["p95_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "errors": errors,
        "unexpected": result["unexpected"],
        "acks": result["acks"],
        # CPU milliseconds a request, per kind of process (bench/cpu.py).
        "cpu_ms": {k: v * 1000 / result["requests"] for k, v in spent.items()}
        if result["requests"]
        else {},
    }


def machine() -> dict:
    import django
    from django.db import connection

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        buffers = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        sync = cursor.fetchone()[0]
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB",
        "postgresql": f"{pg} (shared_buffers {buffers}, synchronous_commit {sync}, same host)",
        "python": platform.python_version(),
        "django": django.get_version(),
        "wrk": (wrk_version.split("\n")[0] or "wrk").strip(),
        "os": platform.platform(),
    }


def verify(checkin_acks: list[int], quickout_acks: list[int], run: str, api_acks=()) -> dict:
    """Every acknowledged check-in (a fresh token each) is one stored row of its own; every
    acknowledged quick OUT is a stored row. Once the list of open INs is used up, the quick OUT
    answers with the OUT already stored (idempotent): those repeat an id. Rows stored but never
    acknowledged are the requests in flight when a load generator stopped. Every swipe a
    batch's answer says created is a stored badge registration of its own."""
    from checkins.models import Registration

    stored = Registration.objects.filter(idempotency_key__startswith=run).exclude(
        idempotency_key__startswith=f"{run}-api-"
    )
    distinct = set(checkin_acks)
    found = set(stored.filter(pk__in=distinct, kind="IN").values_list("pk", flat=True))
    outs = set(quickout_acks)
    outs_found = set(stored.filter(pk__in=outs, kind="OUT").values_list("pk", flat=True))
    swipes = set(api_acks)
    swipes_stored = Registration.objects.filter(
        idempotency_key__startswith=f"{run}-api-", source=Registration.Source.BADGE_READER
    )
    swipes_found = swipes_stored.filter(pk__in=swipes).count()
    return {
        "acknowledged": len(checkin_acks),
        "acknowledged_distinct": len(distinct),
        "acknowledged_stored": len(found),
        "quickout_acknowledged": len(quickout_acks),
        "quickout_distinct": len(outs),
        "quickout_stored": len(outs_found),
        "stored_by_run": stored.count(),
        "swipes_acknowledged": len(api_acks),
        "swipes_distinct": len(swipes),
        "swipes_stored": swipes_found,
        "swipes_stored_by_run": swipes_stored.count(),
        "ok": len(distinct) == len(checkin_acks) == len(found)
        and len(outs) == len(outs_found)
        and len(swipes) == len(api_acks) == swipes_found,
    }


def main(argv=None) -> dict:
    args = parse_args(argv)
    database_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DB
    if not urlparse(database_url).path.rstrip("/").endswith("_bench"):
        raise SystemExit(f"bench: refusing {database_url}: its name must end in _bench")
    wrk = ensure_wrk()
    env = server_env(args, database_url)
    os.environ.pop("CLAO_DEV_IDP", None)
    os.environ.update(env)
    started = time.monotonic()
    load_before = os.getloadavg()

    if args.reuse:
        ensure_database(database_url)
    else:
        recreate_database(database_url)
    log(f"migrating {urlparse(database_url).path.lstrip('/')}")
    subprocess.run(
        [PY, "manage.py", "migrate", "--no-input", "-v0"], cwd=BASE_DIR, env=env, check=True
    )
    subprocess.run(
        [PY, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=BASE_DIR, env=env, check=True
    )
    pool_size = max(2000, int(1500 * args.seconds))
    log(f"seeding {pool_size} check-in workers and {args.day_workers} workers with a history")
    seeded = seed(args, pool_size)
    analyze()

    workdir = Path(tempfile.mkdtemp(prefix="clao-bench-"))
    pool_file, day_file = workdir / "pool.tsv", workdir / "day.tsv"
    pool_file.write_text("".join(f"{key}\n" for key in seeded["pool"]))
    day_file.write_text("".join(f"{key}\n" for key in seeded["day"]))
    run = secrets.token_hex(4)
    csrf = secrets.token_hex(16)
    lua_env = {"BENCH_CSRF": csrf, "BENCH_RUN": run, "BENCH_DAY_QUERY": seeded["day_query"]}

    clao_port, bare_port = (args.port, args.port + 1) if args.port else (free_port(), free_port())
    clao = Server("clao", "clao.wsgi:application", clao_port, env, workdir)
    bare = Server("bare", "bench.bare:application", bare_port, env, workdir)
    floor = None if args.no_floor else Server("floor", FLOOR_APP, free_port(), env, workdir)
    results, acks, out_acks = {}, [], []
    try:
        clao.wait_ready()
        bare.wait_ready()
        if floor:
            floor.wait_ready()
        # One warm-up second each: imports, connections, template compilation.
        warm = argparse.Namespace(**{**vars(args), "seconds": 1})
        for target in ("bare", "daylist", "form", "streets"):
            port = bare.port if target == "bare" else clao.port
            run_wrk(wrk, warm, target, port, day_file, lua_env, workdir)
        if floor:
            # Warmed up too: its workers' first requests open connections and fill caches.
            floor_env = lua_env | {"BENCH_PATH": "/floor/noop/"}
            run_wrk(wrk, warm, "floor_noop", floor.port, day_file, floor_env, workdir)
        settle()

        log("loading the bare view")
        bare_app = "bench.bare:application"
        bare_runs = [run_wrk(wrk, args, "bare", bare.port, day_file, lua_env, workdir, bare_app)]
        for target, _label, _ratio in TARGETS:
            log(f"loading {target}")
            if target == "quickout":
                data = workdir / "quickout.tsv"
                data.write_text("".join(f"{row}\n" for row in latest_open_ins(seeded["pool"])))
            else:
                data = pool_file if target == "checkin" else day_file
            results[target] = run_wrk(
                wrk, args, target, clao.port, data, lua_env, workdir, "clao.wsgi:application"
            )
            received = [int(pk) for pk in results[target]["acks"]]
            (out_acks if target == "quickout" else acks).extend(received)
        for index, (key, _label, floor_path) in enumerate(FLOORS if floor else ()):
            log(f"loading {key}")
            kind = "floor_noop" if key == "floor_noop" else "floor_store"
            results[key] = run_wrk(
                wrk,
                args,
                kind,
                floor.port,
                pool_file,
                # Tokens of their own: the same workers as the check-ins, new registrations.
                lua_env | {"BENCH_PATH": floor_path, "BENCH_SERIES": f"4{index + 1:03x}"},
                workdir,
                FLOOR_APP,
            )
            # Stored rows too: each acknowledged one is checked like a check-in.
            acks.extend(int(pk) for pk in results[key]["acks"])
        log("loading the bare view again")
        bare_runs.append(
            run_wrk(wrk, args, "bare", bare.port, day_file, lua_env, workdir, bare_app)
        )

        # Before the open loop: it leaves the servers a queue of requests its generator gave up
        # on, which a batch would wait behind.
        api_seconds = args.api_seconds or args.seconds
        log(f"badge readers: {args.api_connections} x batches of 200 for {api_seconds:g} s")
        # Statistics, as autovacuum would have them by now (a test server may run without it:
        # then the planner reads each worker's latest registration through the wrong index).
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE accounts_person, checkins_registration")
        api_workers_file = workdir / "api_workers.txt"
        api_workers_file.write_text("".join(f"{n}\n" for n in seeded["api_workers"]))
        answer = subprocess.run(
            [
                PY,
                str(BASE_DIR / "bench" / "api_load.py"),
                "--port",
                str(clao.port),
                "--token",
                seeded["api_token"],
                "--workers",
                str(api_workers_file),
                "--run",
                run,
                "--seconds",
                str(api_seconds),
                "--connections",
                str(args.api_connections),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        api = json.loads(answer.stdout)

        log(f"open loop: {args.rate:g} check-ins/s for {args.rate_seconds:g} s")
        answer = subprocess.run(
            [
                PY,
                str(BASE_DIR / "bench" / "openloop.py"),
                "--port",
                str(clao.port),
                "--rate",
                str(args.rate),
                "--seconds",
                str(args.rate_seconds),
                "--data",
                str(pool_file),
                "--csrf",
                csrf,
                "--run",
                run,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        openloop = json.loads(answer.stdout)
        acks += openloop["acks"]
    finally:
        clao.stop()
        bare.stop()
        if floor:
            floor.stop()
    load_after = os.getloadavg()

    bare_rps = sum(r["rps"] for r in bare_runs) / len(bare_runs)
    for target in results:
        results[target]["ratio"] = results[target]["rps"] / bare_rps if bare_rps else 0.0
    checks = verify(acks, out_acks, run, api["acks"])
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "args": {k: v for k, v in vars(args).items() if k not in ("json",)},
        "machine": machine(),
        "load_before": load_before,
        "load_after": load_after,
        "bare": bare_runs,
        "bare_rps": bare_rps,
        "targets": {k: {x: y for x, y in v.items() if x != "acks"} for k, v in results.items()},
        "openloop": {k: v for k, v in openloop.items() if k != "acks"},
        "api": {k: v for k, v in api.items() if k != "acks"},
        "checks": checks,
        "minutes": (time.monotonic() - started) / 60,
        "registrations": registration_count(),
    }
    table = render(report)
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if not args.no_docs:
        write_section(args.section, document(report, table))
        log("wrote docs/benchmarks.md")
    shutil.rmtree(workdir, ignore_errors=True)
    if not checks["ok"]:
        raise SystemExit("bench: an acknowledged check-in is not exactly one stored row")
    return report


def registration_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        # The planner's estimate: exact counts of 10 million rows take seconds.
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = %s", ["checkins_registration"]
        )
        estimate = cursor.fetchone()[0]
    if estimate < 100_000:
        from checkins.models import Registration

        return Registration.objects.count()
    return estimate


def verdict(value: float, target: float | None, at_least: bool = True) -> str:
    if target is None:
        return ""
    met = value >= target if at_least else value <= target
    return f"{'met' if met else 'NOT met'} (target {'≥' if at_least else '≤'} {target:g})"


def render(report: dict) -> str:
    rows = [
        "| target | req/s | p50 ms | p95 ms | p99 ms | errors | ratio to bare | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for index, run in enumerate(report["bare"]):
        when = "before" if index == 0 else "after"
        rows.append(
            f'| bare Django view `HttpResponse("ok")` ({when}) | {run["rps"]:,.0f} | '
            f"{run['p50_ms']:.1f} | {run['p95_ms']:.1f} | {run['p99_ms']:.1f} | "
            f"{run['errors'] + run['unexpected']} | 1 | |"
        )
    measured = [(label, report["targets"][key], target) for key, label, target in TARGETS]
    measured += [
        (label, report["targets"][key], None)
        for key, label, _ in FLOORS
        if key in report["targets"]
    ]
    for label, r, target in measured:
        rows.append(
            f"| {label} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['errors'] + r['unexpected']} | {r['ratio']:.3f} | "
            f"{verdict(r['ratio'], target)} |"
        )
    a = report["api"]
    rows.append(
        f"| badge-reader API POST `/api/v1/presence-registrations`, batch of {a['size']} swipes "
        f"({a['connections']} reader(s) at once; batches/s) | {a['batches_per_s']:,.1f} | "
        f"{a['p50_ms']:.1f} | {a['p95_ms']:.1f} | {a['p99_ms']:.1f} | "
        f"{a['errors'] + a['unexpected']} | | p50 "
        f"{verdict(a['p50_ms'], API_BATCH_TARGET_MS, at_least=False)} |"
    )
    rows += ["", *cpu_table(report)]
    o = report["openloop"]
    checks = report["checks"]
    rows += [
        "",
        f"Open loop, check-in POST at {o['offered_per_s']:g}/s offered ({o['sent']} sent at "
        f"{o['sent_per_s']:g}/s, {o['answered']} answered, {o['errors']} errors): "
        f"p50 {o['p50_ms']} ms, p95 {o['p95_ms']} ms, **p99 {o['p99_ms']} ms**, "
        f"max {o['max_ms']} ms — {verdict(o['p99_ms'], RATE_TARGET_MS, at_least=False)}.",
        "",
        f"Acknowledged check-ins (302 to their page: wrk's check-ins and the floor's stores, "
        f"the open loop): "
        f"{checks['acknowledged']}, distinct {checks['acknowledged_distinct']}, found stored "
        f"{checks['acknowledged_stored']}; quick OUTs acknowledged "
        f"{checks['quickout_acknowledged']} ({checks['quickout_distinct']} distinct OUTs, "
        f"{checks['quickout_stored']} found stored; a repeat is a worker whose IN was already "
        "closed: the answer shows that OUT) — "
        f"{'every acknowledged check-in is one stored row' if checks['ok'] else 'MISMATCH'}; "
        f"rows stored by the run: {checks['stored_by_run']} (more than acknowledged: requests "
        "in flight when wrk stopped, whose answers it does not read).",
        "",
        f"Badge readers: {a['batches']} batches of {a['size']} in {a['seconds']:g} s "
        f"({a['items_per_s']:,.0f} swipes stored a second); swipes answered created "
        f"{checks['swipes_acknowledged']}, distinct {checks['swipes_distinct']}, found stored "
        f"{checks['swipes_stored']} (stored by the run: {checks['swipes_stored_by_run']}) — "
        + (
            "every created swipe is one stored row."
            if checks["swipes_acknowledged"] == checks["swipes_stored"]
            else "MISMATCH."
        ),
    ]
    return "\n".join(rows)


def cpu_table(report: dict) -> list[str]:
    """CPU milliseconds a request by kind of process: what the ratio to the bare view is made of
    (the machine's CPUs are shared by all of them)."""
    runs = [("bare Django view (before)", report["bare"][0])]
    runs += [(key, report["targets"][key]) for key, _label, _ratio in TARGETS]
    runs += [(key, report["targets"][key]) for key, *_ in FLOORS if key in report["targets"]]
    runs.append(("bare Django view (after)", report["bare"][-1]))
    rows = [
        "CPU a request, in ms, by process (`bench/cpu.py`, /proc of the whole machine during "
        "each wrk run):",
        "",
        "| target | gunicorn workers | PostgreSQL | Redis | wrk | other | total |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs:
        ms = run.get("cpu_ms") or {}
        if not ms:
            continue
        rows.append(
            f"| {name} | {ms['gunicorn']:.2f} | {ms['postgres']:.2f} | {ms['redis']:.2f} | "
            f"{ms['load']:.2f} | {ms['other']:.2f} | {sum(ms.values()):.2f} |"
        )
    return rows


def document(report: dict, table: str) -> str:
    m, a = report["machine"], report["args"]
    sessions_note = " (Redis, CACHE_URL)" if a["sessions"] == "cache" else ""
    before = ", ".join(f"{x:.2f}" for x in report["load_before"])
    after = ", ".join(f"{x:.2f}" for x in report["load_after"])
    return f"""## Web: ClaO's worker pages against a bare Django view (`bench/web.py`)

Recorded {report["date"]} by `make bench` ({report["minutes"]:.1f} minutes), on a database of
{report["registrations"]:,} registrations.

{table}

### How it was run

- gunicorn servers started with `gunicorn.conf.py` (as the Docker image runs it: sync
  workers, access log on standard output), WEB_CONCURRENCY={a["workers"]}, DEBUG off, static
  files collected: ClaO (`clao.wsgi`), the bare view (`bench/bare.py`, `HttpResponse("ok")`,
  no middleware) and the floor (`bench/floor.py`: ClaO with three more views), same venv,
  loopback.
- The floor rows send the check-in's very request (session, CSRF token, fresh `client_token`)
  to views that do less than the check-in: a redirect once the person is read; `register()`
  with fixed values and a redirect (no form, no rate limit); the same behind only the
  middleware a check-in POST needs. The check-in cannot go faster than the store.
- Sessions: `SESSION_ENGINE={a["sessions"]}`{sessions_note};
  persistent database connections (`CONN_MAX_AGE` 60 s, the settings' default);
  `synchronous_commit` stays on.
- wrk {a["threads"]} threads, {a["connections"]} connections, {a["seconds"]:g} s per target, one
  target after the other, the bare view first and last (the ratio uses their mean), from a
  separate process on the same machine (so wrk takes CPU from the servers, for both alike).
  Each check-in has a fresh `client_token`; the quick OUT closes the latest IN of a worker the
  check-in run left open, each once.
- Open loop: `bench/openloop.py` sends check-ins at a fixed rate on fresh connections and
  measures each from the moment it was due (wrk's closed loop would hide the queue).
- Badge readers: `bench/api_load.py`, {a["api_connections"]} reader(s) at once
  (`--api-connections`; kept-alive connections, each waiting for its answer),
  {a["api_seconds"] or a["seconds"]:g} s, after the wrk targets and before the open loop:
  batches of 200 swipes (each of a reader's 100 workers IN then OUT) with the seed's device
  credential; the per-credential rate limit is raised for the run (`CLAO_API_RATE`). A batch is
  timed from its first byte sent to the last byte of its answer. Target (issue 13): p50 ≤ 300
  ms, for a batch alone (one reader).

### Machine

- CPU: {m["nproc"]} × {m["cpu"]}, memory {m["memory"]}
- PostgreSQL {m["postgresql"]}
- Python {m["python"]}, Django {m["django"]}, {m["wrk"]}
- OS: {m["os"]}
- Load average (1, 5, 15 min) before the run: {before}; after: {after}. Other sessions share
  this machine: a load above 2 means they took CPU during the run.

### Rerun

```sh
make bench                       # 10 s per target, 170 check-ins/s for 20 s
.venv/bin/python bench/web.py --help   # seconds, connections, workers, rate, sessions
```

It drops and recreates the database named by `BENCH_DATABASE_URL` (default
`{DEFAULT_DB}`; the name must end in `_bench`). `--reuse` keeps its data (the growth history
below) and adds the bench's workers to it.
"""


if __name__ == "__main__":
    main()
