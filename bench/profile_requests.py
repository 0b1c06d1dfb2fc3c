"""Where a request's time goes: ClaO's WSGI application called in-process, as gunicorn calls it.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/clao_bench \\
        .venv/bin/python bench/profile_requests.py [--target checkin] [--calls 300] [--profile]

Uses the database seeded by bench/web.py (run it once first, e.g. with --seconds 2). Prints the
mean wall time per request of each target and, with --profile, cProfile's top functions.
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
from pathlib import Path
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="all")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
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
    os.environ.pop("CLAO_DEV_IDP", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db.models import Count
    from django.utils import timezone
    from django.utils.module_loading import import_string

    from accounts.models import Person

    store_class = import_string(settings.SESSION_ENGINE + ".SessionStore")

    def login(person) -> str:
        store = store_class()
        store.update(
            {
                "_auth_user_id": str(person.pk),
                "_auth_user_backend": "allauth.account.auth_backends.AuthenticationBackend",
                "_auth_user_hash": person.get_session_auth_hash(),
                "clao_authenticated_at": timezone.now().timestamp(),
            }
        )
        store.create()
        return f"sessionid={store.session_key}; csrftoken={csrf}"

    csrf = secrets.token_hex(16)
    with_history = (
        Person.objects.annotate(n=Count("registrations")).filter(n__gte=20).order_by("pk").first()
    )
    fresh = Person.objects.annotate(n=Count("registrations")).filter(n=0).order_by("-pk")[:50]
    history_cookie = login(with_history)
    fresh_cookies = [login(person) for person in fresh]
    app = WSGIHandler()

    def checkin(index: int) -> dict:
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
        return environ(
            "POST", "/registrations/new/", fresh_cookies[index % len(fresh_cookies)], body
        )

    targets = {
        "checkin": checkin,
        "daylist": lambda i: environ("GET", "/", history_cookie),
        "form": lambda i: environ("GET", "/registrations/new/", history_cookie),
        "streets": lambda i: environ(
            "GET",
            "/geo/streets/?street=rue&postal_code=1000",
            history_cookie,
            HTTP_HX_REQUEST="true",
        ),
    }
    chosen = targets if args.target == "all" else {args.target: targets[args.target]}

    def call(env: dict) -> int:
        statuses = []
        result = app(env, lambda status, headers: statuses.append(status))
        b"".join(result)
        result.close()
        return int(statuses[0].split()[0])

    for name, make in chosen.items():
        for index in range(20):  # warm-up
            call(make(index))
        profiler = cProfile.Profile() if args.profile else None
        start = time.perf_counter()
        cpu = time.process_time()
        if profiler:
            profiler.enable()
        codes = [call(make(index)) for index in range(args.calls)]
        if profiler:
            profiler.disable()
        wall = (time.perf_counter() - start) / args.calls * 1000
        cpu = (time.process_time() - cpu) / args.calls * 1000
        print(f"{name}: {wall:.2f} ms wall, {cpu:.2f} ms CPU per request; statuses {set(codes)}")
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(
                os.environ.get("SORT", "cumulative")
            ).print_stats(45)
            print(out.getvalue())


if __name__ == "__main__":
    main()
