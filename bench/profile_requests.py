"""Where a request's time goes: ClaO's WSGI application called in-process, as gunicorn calls it.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/clao_bench \\
        .venv/bin/python bench/profile_requests.py [--target checkin] [--calls 300] [--profile]
        .venv/bin/python bench/profile_requests.py --target form --layers \\
            --wrap checkins.history:employer_options --wrap django.contrib.auth:get_user

Uses the database seeded by bench/web.py (run it once first, e.g. with --seconds 2). Prints the
mean wall and CPU time per request of each target; with --profile, cProfile's top functions
(timed in CPU time: other processes on the machine do not count); with --layers, the CPU time
of each middleware on its own (without what it calls), the view, the templates and the
database calls, and of each function named by --wrap (module:function or module:Class.method);
with --templates, the CPU time of each template file on its own. The floor_* targets send the
check-in's request to bench/floor.py's views (what the stack costs before the check-in's work).
Rate limits are raised for the run: a 429 would measure the wrong page.
"""

import argparse
import cProfile
import io
import os
import pstats
import secrets
import sys
import time
import uuid
from datetime import timedelta
from functools import partial
from importlib import import_module
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.sessions import login_key  # noqa: E402
from bench.web import FLOORS  # noqa: E402


def environ(method: str, path: str, cookie: str, body: bytes = b"", **extra) -> dict:
    query = ""
    if "?" in path:
        path, query = path.split("?", 1)
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8190",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8190",
        "HTTP_COOKIE": cookie,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
    }
    env.update(extra)
    return env


class Timer:
    """CPU time of what is wrapped, each without what it calls that is wrapped too (a stack):
    totals by label, a label a string or a function of the call's arguments."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.stack: list[list[float]] = []

    def wrap(self, owner, attribute: str, label) -> None:
        inner = getattr(owner, attribute)
        timer = self

        def timed(*args, **kwargs):
            timer.stack.append([0.0])
            start = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                elapsed = time.process_time() - start
                children = timer.stack.pop()[0]
                name = label(*args, **kwargs) if callable(label) else label
                timer.totals[name] = timer.totals.get(name, 0.0) + elapsed - children
                if timer.stack:
                    timer.stack[-1][0] += elapsed

        setattr(owner, attribute, timed)

    def reset(self) -> None:
        self.totals = {}

    def report(self, calls: int) -> str:
        rows = sorted(self.totals.items(), key=lambda item: -item[1])
        return "\n".join(f"  {s / calls * 1000:7.3f} ms  {label}" for label, s in rows)


class TemplateTimes(Timer):
    """CPU time of each template file, without the templates it includes or extends."""

    def __init__(self) -> None:
        from django.template.base import Template

        super().__init__()
        self.wrap(Template, "_render", _template_name)


def _template_name(template, context) -> str:
    return getattr(template.origin, "template_name", None) or str(template.origin)


class Layers(Timer):
    """CPU time spent in each layer of a request, without the layers it calls: each middleware,
    the view (URL resolution and the view's own code, ORM included), template rendering and
    database calls (the driver and the wait for the answer's CPU on this side)."""

    def __init__(self, middleware: list[str], extra: list[str]) -> None:
        from django.core.handlers.base import BaseHandler
        from django.db.backends.utils import CursorWrapper
        from django.template.backends.django import Template
        from django.utils.module_loading import import_string

        super().__init__()
        for path in middleware:
            module_path, name = path.rsplit(".", 1)
            found = import_string(path)
            if isinstance(found, type):
                self.wrap(found, "__call__", name)
            else:  # a middleware factory (allauth's): wrap what it returns
                self.wrap_factory(import_module(module_path), name)
        self.wrap(BaseHandler, "_get_response", "view (resolve, view, ORM)")
        self.wrap(Template, "render", "templates")
        self.wrap(CursorWrapper, "execute", "database calls")
        self.wrap(CursorWrapper, "executemany", "database calls")
        self.wrap(CursorWrapper, "callproc", "database calls")
        for target in extra:
            module_path, _, attribute = target.partition(":")
            owner = import_module(module_path)
            *parents, name = attribute.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            self.wrap(owner, name, target)

    def wrap_factory(self, module, name: str) -> None:
        factory = getattr(module, name)
        layers = self

        def wrapped_factory(get_response):
            original = factory(get_response)
            holder = SimpleNamespace(call=original)
            layers.wrap(holder, "call", name)
            if hasattr(original, "process_exception"):
                holder.call.process_exception = original.process_exception
            return holder.call

        wrapped_factory.sync_capable, wrapped_factory.async_capable = True, False
        setattr(module, name, wrapped_factory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--target",
        default="all",
        help="checkin, quickout, daylist, detail, form, streets, or all of them; "
        "floor_noop, floor_store, floor_lean_store: the check-in's request to bench/floor.py",
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--layers", action="store_true")
    parser.add_argument(
        "--templates",
        action="store_true",
        help="the CPU time of each template file on its own (without the ones it includes)",
    )
    parser.add_argument(
        "--wrap",
        action="append",
        default=[],
        help="with --layers, one more layer: module:Class.method or module:function",
    )
    args = parser.parse_args()
    os.environ |= {
        "DATABASE_URL": os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clao_bench"
        ),
        "DEBUG": "0",
        "SECRET_KEY": "profile-" + secrets.token_hex(8),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_ENGINE": os.environ.get("SESSION_ENGINE", "cache"),
        "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/9"),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "clao.settings",
    }
    for group in ("REGISTRATION", "QUICK_OUT", "SUGGESTIONS"):
        os.environ.setdefault(f"CLAO_RATE_{group}", "100000/m")
    os.environ.pop("CLAO_DEV_IDP", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db.models import Count
    from django.utils import timezone

    from accounts.models import Person

    def login(person) -> str:
        return f"sessionid={login_key(person)}; csrftoken={csrf}"

    csrf = secrets.token_hex(16)
    with_history = (
        Person.objects.annotate(n=Count("registrations")).filter(n__gte=20).order_by("pk").first()
    )
    fresh = Person.objects.annotate(n=Count("registrations")).filter(n__lt=10).order_by("-pk")[:50]
    history_cookie = login(with_history)
    # The day bench/web.py seeded with 4 registrations: before 05:00 it was yesterday.
    local_now = timezone.localtime()
    day_query = "" if local_now.hour >= 5 else f"?date={local_now.date() - timedelta(days=1)}"
    fresh_cookies = [login(person) for person in fresh]
    latest_pk = with_history.registrations.order_by("-pk").values_list("pk", flat=True).first()
    layers = Layers(settings.MIDDLEWARE, args.wrap) if args.layers else None
    templates = TemplateTimes() if args.templates else None
    app = WSGIHandler()

    def checkin(index: int, cookie: str | None = None, path: str = "/registrations/new/") -> dict:
        body = urlencode(
            {
                "csrfmiddlewaretoken": csrf,
                "client_token": str(uuid.uuid4()),
                "kind": "IN",
                "enterprise_number": "0450905686",
                "ddt_choice": "unknown",
                "latitude": "50.846557",
                "longitude": "4.351697",
                "accuracy": "12",
            }
        ).encode()
        cookie = cookie or fresh_cookies[index % len(fresh_cookies)]
        return environ("POST", path, cookie, body)

    open_ins: list[tuple[str, int]] = []
    made_open_ins = []

    def quickout(index: int) -> dict:
        if not made_open_ins:
            made_open_ins.append(True)
            # One open IN for each call to come (made through the application, not timed).
            count = args.calls + 20
            people = Person.objects.annotate(n=Count("registrations")).filter(n__lt=10)
            for person in people.order_by("pk")[:count]:
                cookie = login(person)
                _status, headers = call(checkin(0, cookie))
                open_ins.append((cookie, int(dict(headers)["Location"].split("/")[-2])))
        # Each call closes an IN of its own (warm-up included).
        cookie, closes = open_ins.pop()
        body = urlencode(
            {
                "csrfmiddlewaretoken": csrf,
                "client_token": str(uuid.uuid4()),
                "closes": closes,
                "latitude": "50.846557",
                "longitude": "4.351697",
                "accuracy": "12",
            }
        ).encode()
        return environ("POST", "/registrations/quick-out/", cookie, body)

    targets = {
        "checkin": checkin,
        "quickout": quickout,
        "daylist": lambda i: environ("GET", "/" + day_query, history_cookie),
        # The confirmation a check-in redirects to.
        "detail": lambda i: environ("GET", f"/registrations/{latest_pk}/", history_cookie),
        "form": lambda i: environ("GET", "/registrations/new/", history_cookie),
        "streets": lambda i: environ(
            "GET",
            "/geo/streets/?street=rue&postal_code=1000",
            history_cookie,
            HTTP_HX_REQUEST="true",
        ),
    }
    # bench/floor.py's views: the check-in's request to views that do less (not in "all").
    floors = {key: partial(checkin, path=path) for key, _label, path in FLOORS}
    chosen = targets if args.target == "all" else {args.target: (targets | floors)[args.target]}
    if args.target.startswith("floor_"):
        from bench.floor import application as app

    def call(env: dict) -> tuple[int, list]:
        started = []
        result = app(env, lambda status, headers: started.append((status, headers)))
        b"".join(result)
        result.close()
        status, headers = started[0]
        return int(status.split()[0]), headers

    for name, make in chosen.items():
        for index in range(20):  # warm-up
            call(make(index))
        if layers:
            layers.reset()
        if templates:
            templates.reset()
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        start = time.perf_counter()
        cpu = time.process_time()
        if profiler:
            profiler.enable()
        codes = [call(make(index))[0] for index in range(args.calls)]
        if profiler:
            profiler.disable()
        wall = (time.perf_counter() - start) / args.calls * 1000
        cpu = (time.process_time() - cpu) / args.calls * 1000
        print(f"{name}: {wall:.2f} ms wall, {cpu:.2f} ms CPU per request; statuses {set(codes)}")
        if layers:
            print(layers.report(args.calls))
        if templates:
            print(templates.report(args.calls))
        if profiler and os.environ.get("PROFILE_DUMP"):
            profiler.dump_stats(f"{os.environ['PROFILE_DUMP']}.{name}")
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(
                os.environ.get("SORT", "cumulative")
            ).print_stats(45)
            print(out.getvalue())


if __name__ == "__main__":
    main()
