"""Failure test of the loopback cluster: steady check-ins while parts of it die, then the count.

    bin/cluster up
    bin/cluster failover-test [--clients 12] [--workers 240] [--rate 30] [--duration 80]
                              [--json FILE] [--calm]

(`bin/cluster failover-test` runs this file with the app nodes' environment, so that it reaches
the same database and session store.) Slow and disruptive: not part of `make test`.

1. Makes the workers (NISS numbers of 1990 not used by the demo) and logs each one in
   without the identity provider: a session in the shared session store (Django's test Client
   `force_login`, the same login() the SAML callback ends with), whose cookie the client sends.
2. Each client process, through the balancer on 127.0.0.1:8200, fetches the registration form
   once per worker it plays (CSRF cookie and token, as a browser does), then posts check-ins at a
   steady rate, its workers in turn (IN, OUT, IN, ... for each; a few a minute per worker,
   below the per-person rate limit), with a new `client_token` for each. A check-in whose answer
   is not "302 to its confirmation" (a 5xx, a reset connection, a time-out) is posted again with
   the SAME token until it is answered. Every tenth check-in it reads its confirmation back,
   and a past day of its list from a second cookie jar (another device, without the
   read-your-writes cookie: those reads may come from the replica).
3. Meanwhile, the main process: SIGKILLs app node 8201 (the whole process group), restarts it,
   restarts PgBouncer, stops the replica, starts it again.
4. Then it counts, in the primary: each answered check-in must be stored exactly once, under the
   registration its answer named, and the workers have no other registration.

It prints the error windows seen by the clients (from the first to the last failed attempt
around each event) and a Markdown summary for docs/scaling.md.
"""

import argparse
import json
import multiprocessing
import os
import queue
import re
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from http.client import HTTPConnection, RemoteDisconnected
from pathlib import Path
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
CLUSTER = BASE_DIR / "bin" / "cluster"
BALANCER = ("127.0.0.1", 8200)
KILLED_NODE = "8201"
FORM = "/registrations/new/"
CONFIRMATION = re.compile(r"^/registrations/(\d+)/$")
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# A retry after a failed attempt waits this long: a phone's retry, not a hammer.
RETRY_PAUSE = 0.2
# A check-in not answered after this long is given up (and reported as unanswered).
GIVE_UP_AFTER = 120.0
# Failed attempts closer than this belong to the same error window (seconds).
WINDOW_GAP = 1.5


def setup_django() -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clao.settings")
    import django

    django.setup()


def niss_of(index: int) -> str:
    """A valid NISS of someone born on 1 January 1990 (check digits: 97 - number mod 97)."""
    base = 900101 * 1000 + 500 + index
    return f"{base}{97 - base % 97:02d}"


def log_in_workers(count: int) -> list[dict]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    workers = []
    for index in range(count):
        person, _created = get_user_model().objects.get_or_create(
            niss=niss_of(index),
            defaults={"first_name": f"Failover {index}", "last_name": "Test", "language": "en"},
        )
        client = Client()
        client.force_login(person)
        # Go on from where an earlier run left this worker: OUT after an IN.
        last = person.registrations.order_by("-recorded_at", "-pk").first()
        workers.append(
            {
                "id": person.pk,
                "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "first_kind": "OUT" if last is not None and last.kind == "IN" else "IN",
            }
        )
    return workers


# --- one client process ----------------------------------------------------------------------


class Browser:
    """A keep-alive HTTP connection to the balancer with the cookies of one worker."""

    def __init__(self, session_cookie: str) -> None:
        from django.conf import settings

        self.cookies = {settings.SESSION_COOKIE_NAME: session_cookie}
        self.connection: HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, str]:
        if self.connection is None:
            self.connection = HTTPConnection(*BALANCER, timeout=15)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{BALANCER[0]}:{BALANCER[1]}{FORM}"
        reused = self.connection.sock is not None
        try:
            self.connection.request(method, path, body=data, headers=headers)
            response = self.connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (BrokenPipeError, ConnectionResetError, RemoteDisconnected):
            self.connection.close()
            self.connection = None
            if not reused:
                raise
            # The balancer closed this idle keep-alive connection: like a browser, send the
            # request again at once on a new one (a check-in keeps its token).
            return self.request(method, path, body)
        except Exception:
            self.connection.close()
            self.connection = None
            raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text


def run_client(number: int, workers: list[dict], args: dict, start_at: float, results) -> None:
    """One client process: the check-ins of several workers, in turn (each stays far below the
    per-person limit on the form's submissions, CLAO_RATE_REGISTRATION)."""
    import django

    django.setup()
    interval = args["clients"] / args["rate"]
    stop_at = start_at + args["duration"]
    checkins, failures, reads, confirmations = [], [], [], []

    def attempt(via: Browser, method, path, body=None):
        moment = time.time()
        try:
            status, headers, text = via.request(method, path, body)
        except Exception as error:
            failures.append((moment, f"{type(error).__name__}"))
            return None
        if status >= 500:
            failures.append((moment, str(status)))
            return None
        return status, headers, text

    phones = []
    for worker in workers:
        phone = {
            "browser": Browser(worker["session"]),
            # The same worker on another device, which has not written lately: its past days
            # may be read from the replica (the writing browser has the read-your-writes mark).
            "reader": Browser(worker["session"]),
            "kind": worker["first_kind"],
            "csrf": None,
        }
        while phone["csrf"] is None and time.time() < stop_at:
            answer = attempt(phone["browser"], "GET", FORM)
            if answer and answer[0] == 200 and (found := CSRF_INPUT.search(answer[2])):
                phone["csrf"] = found.group(1)
            elif answer:
                raise SystemExit(f"client {number}: the form answered {answer[0]}: not logged in?")
            else:
                time.sleep(RETRY_PAUSE)
        phones.append(phone)

    while time.time() < start_at:
        time.sleep(0.01)
    step = 0
    next_at = start_at + number * interval / args["clients"]
    while time.time() < stop_at:
        time.sleep(max(0.0, next_at - time.time()))
        next_at += interval
        phone = phones[step % len(phones)]
        step += 1
        token = str(uuid.uuid4())
        fields = {
            "csrfmiddlewaretoken": phone["csrf"],
            "client_token": token,
            "kind": phone["kind"],
            "enterprise_number": "0450.905.686",
            "ddt_choice": "unknown",
            "latitude": "50.845060",
            "longitude": "4.349540",
            "accuracy": "10",
        }
        first = time.time()
        tries, stored_pk = 0, None
        while stored_pk is None and time.time() - first < GIVE_UP_AFTER:
            tries += 1
            answer = attempt(phone["browser"], "POST", FORM, fields)
            if answer is None:
                time.sleep(RETRY_PAUSE)
                continue
            status, headers, text = answer
            location = headers.get("location", "")
            if status == 302 and (found := CONFIRMATION.match(location)):
                stored_pk = int(found.group(1))
            else:
                raise SystemExit(
                    f"client {number}: check-in refused ({status} {location}): {text[:2000]}"
                )
        checkins.append(
            {
                "token": token,
                "kind": phone["kind"],
                "pk": stored_pk,
                "sent": first,
                "answered": time.time() if stored_pk else None,
                "tries": tries,
            }
        )
        phone["kind"] = "OUT" if phone["kind"] == "IN" else "IN"
        if step % 10 == 0 and stored_pk:
            # The confirmation just answered, read back by the browser that wrote it.
            answer = attempt(phone["browser"], "GET", f"/registrations/{stored_pk}/")
            confirmations.append(answer[0] if answer else None)
        if step % 10 == 5:
            # A past day of the list: a read that may come from the replica.
            yesterday = time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400))
            moment = time.time()
            answer = attempt(phone["reader"], "GET", f"/?date={yesterday}")
            reads.append((moment, answer[0] if answer else None))
    results.put(
        {
            "client": number,
            "checkins": checkins,
            "failures": failures,
            "confirmations": confirmations,
            "reads": reads,
        }
    )


# --- the disruptions -------------------------------------------------------------------------


def cluster(*command: str) -> None:
    subprocess.run([str(CLUSTER), *command], check=True, stdout=subprocess.DEVNULL)  # noqa: S603


def disrupt(start_at: float, duration: float, events: list) -> None:
    """The failures, spread over the run (offsets in seconds from the start of the load)."""
    plan = [
        (0.15, f"SIGKILL node {KILLED_NODE}", ("kill-node", KILLED_NODE)),
        (0.30, f"restart node {KILLED_NODE}", ("start-node", KILLED_NODE)),
        (0.50, "restart PgBouncer", ("restart-pgbouncer",)),
        (0.70, "stop the replica", ("stop-replica",)),
    ]
    for fraction, label, command in plan:
        time.sleep(max(0.0, start_at + fraction * duration - time.time()))
        began = time.time()
        cluster(*command)
        events.append({"at": began - start_at, "took": time.time() - began, "event": label})


# --- the count -------------------------------------------------------------------------------


def count(results: list[dict], workers: list[dict], since) -> dict:
    from django.db.models import Count

    from checkins.models import Registration

    token_field = "idempotency_key" if hasattr(Registration, "idempotency_key") else "client_token"
    checkins = [c for r in results for c in r["checkins"]]
    answered = [c for c in checkins if c["pk"] is not None]
    rows = Registration.objects.filter(
        worker_id__in=[w["id"] for w in workers], recorded_at__gte=since
    )
    stored = {str(t): n for t, n in rows.values_list(token_field).annotate(n=Count("id"))}
    pks = dict(rows.values_list("pk", token_field))
    lost = [c for c in answered if c["token"] not in stored]
    duplicated = [c for c in answered if stored.get(c["token"], 0) > 1]
    wrong_answer = [c for c in answered if str(pks.get(c["pk"])) != c["token"]]
    sent = {c["token"] for c in checkins}
    unexpected = [token for token in stored if token not in sent]
    return {
        "checkins_sent": len(checkins),
        "answered": len(answered),
        "unanswered": len(checkins) - len(answered),
        "rows_stored": rows.count(),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "answer_names_another_row": len(wrong_answer),
        "rows_nobody_sent": len(unexpected),
        "retried_checkins": sum(1 for c in checkins if c["tries"] > 1),
    }


def error_windows(results: list[dict], start_at: float) -> list[dict]:
    moments = sorted(
        (moment - start_at, reason) for r in results for moment, reason in r["failures"]
    )
    windows: list[dict] = []
    for moment, reason in moments:
        if windows and moment - windows[-1]["last"] <= WINDOW_GAP:
            window = windows[-1]
            window["last"] = moment
            window["failed_attempts"] += 1
            window["reasons"][reason] = window["reasons"].get(reason, 0) + 1
        else:
            windows.append(
                {"first": moment, "last": moment, "failed_attempts": 1, "reasons": {reason: 1}}
            )
    for window in windows:
        window["seconds"] = round(window["last"] - window["first"], 2)
    return windows


def markdown(summary: dict) -> str:
    counted, latency = summary["count"], summary["latency_ms"]
    lines = [
        f"Run of {summary['date']}: {summary['clients']} clients, {summary['rate']} check-ins/s "
        f"for {summary['duration']} s through HAProxy, 2 nodes x "
        f"{os.environ.get('WEB_CONCURRENCY', '?')} gunicorn workers, on a "
        f"{os.cpu_count()}-core machine that also runs PostgreSQL, PgBouncer and the clients.",
        "",
        "| event | at (s) | command took (s) |",
        "| --- | --- | --- |",
        *[f"| {e['event']} | {e['at']:.1f} | {e['took']:.1f} |" for e in summary["events"]],
        "",
        "| count | value |",
        "| --- | --- |",
        *[f"| {key.replace('_', ' ')} | {value} |" for key, value in counted.items()],
        f"| answer time p50 / p95 / max (ms, retries included) | {latency['p50']} / "
        f"{latency['p95']} / {latency['max']} |",
        f"| past-day reads (another device) answered 200 / failed | {summary['reads_ok']} / "
        f"{summary['reads_failed']} |",
        f"| confirmations read back 200 / failed | {summary['confirmations_ok']} / "
        f"{summary['confirmations_failed']} |",
        "",
        "| error window | from (s) | to (s) | seconds | failed attempts | seen by clients |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for index, window in enumerate(summary["error_windows"], 1):
        reasons = ", ".join(f"{k} x{v}" for k, v in sorted(window["reasons"].items()))
        lines.append(
            f"| {index} | {window['first']:.1f} | {window['last']:.1f} | {window['seconds']} | "
            f"{window['failed_attempts']} | {reasons} |"
        )
    if not summary["error_windows"]:
        lines.append("| none | | | 0 | 0 | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=12, help="client processes")
    parser.add_argument(
        "--workers",
        type=int,
        default=240,
        help="workers logged in, shared by the clients (each posts a few check-ins a minute)",
    )
    parser.add_argument("--rate", type=float, default=30.0, help="check-ins per second, in all")
    parser.add_argument("--duration", type=float, default=80.0, help="seconds of load")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--calm", action="store_true", help="the same load without any failure (a baseline)"
    )
    args = parser.parse_args()

    setup_django()
    from django.db import connections
    from django.utils import timezone

    since = timezone.now() - timedelta(seconds=1)
    workers = log_in_workers(args.workers)
    connections.close_all()

    # Time for every worker's browser to fetch its form (CSRF) first.
    start_at = time.time() + 10 + args.workers / 10
    results_queue = multiprocessing.Queue()
    settings = {"clients": args.clients, "rate": args.rate, "duration": args.duration}
    processes = [
        multiprocessing.Process(
            target=run_client,
            args=(number, workers[number :: args.clients], settings, start_at, results_queue),
        )
        for number in range(args.clients)
    ]
    for process in processes:
        process.start()
    events: list[dict] = []
    print(f"failover: {args.clients} clients, {args.rate}/s for {args.duration} s", flush=True)
    if not args.calm:
        disrupt(start_at, args.duration, events)
    results = []
    while len(results) < len(processes):
        try:
            results.append(results_queue.get(timeout=1))
        except queue.Empty:
            if all(process.exitcode is not None for process in processes):
                break
    for process in processes:
        process.join()
    if not args.calm:
        cluster("start-replica")
    if len(results) < len(processes) or any(process.exitcode for process in processes):
        print("failover: a client stopped on an unexpected answer (see above)")
        return 2

    counted = count(results, workers, since)
    answer_times = sorted(
        (c["answered"] - c["sent"]) * 1000 for r in results for c in r["checkins"] if c["answered"]
    )
    reads = [status for r in results for _, status in r["reads"]]
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "clients": args.clients,
        "rate": args.rate,
        "duration": args.duration,
        "events": events,
        "count": counted,
        "latency_ms": {
            "p50": round(statistics.median(answer_times)),
            "p95": round(answer_times[int(len(answer_times) * 0.95)]),
            "max": round(answer_times[-1]),
        },
        "reads_ok": sum(1 for s in reads if s == 200),
        "reads_failed": sum(1 for s in reads if s != 200),
        "confirmations_ok": sum(1 for r in results for s in r["confirmations"] if s == 200),
        "confirmations_failed": sum(1 for r in results for s in r["confirmations"] if s != 200),
        "error_windows": error_windows(results, start_at),
    }
    print(markdown(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    ok = (
        counted["lost"] == 0
        and counted["duplicated"] == 0
        and counted["unanswered"] == 0
        and counted["answer_names_another_row"] == 0
        and counted["rows_nobody_sent"] == 0
    )
    print("failover: PASSED" if ok else "failover: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
