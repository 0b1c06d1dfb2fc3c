"""A badge-reader simulator: a small, readable model of a ClaO web-service client.

It uses the Python standard library only (urllib, json, csv), so that an integrator can read it
from top to bottom. What a real reader must do, it does:

- every swipe gets its own clientReference once, when it is made, and keeps it: sending it
  again (after a timeout, say) stores nothing twice, the answer is "duplicate";
- swipes are kept on disk (the spool, one JSON object a line) until the server has answered;
  when the server cannot be reached they stay there and go with the next run;
- batches of at most 200; each item's answer is read on its own (created, duplicate, refused
  with a code and a message in the --language asked).

Examples (the token comes from `manage.py devices create`):

    python -m api.simulator --url http://127.0.0.1:8000 --token clao_... \\
        --generate 200 --employer 0450905686 --ssin 85073003328 --duplicates 3 --late 1 --invalid 2
    python -m api.simulator --url ... --token ... --csv swipes.csv
    python -m api.simulator --url ... --token ...            # sends what the spool still holds

CSV columns: clientReference (optional: one is made), ssin, type, enterpriseNumber,
registeredAt (ISO 8601; optional: now), latitude and longitude, or postCode, municipalityName,
streetName, houseNumber, boxNumber; workDeclaration (optional).
"""

import argparse
import csv
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

BATCH = 200
PATH = "/api/v1/presence-registrations"
# Around the Gare du Midi in Brussels: generated swipes happen there.
LATITUDE, LONGITUDE = 50.8357, 4.3365


class Unreachable(Exception):
    """The server did not answer (or answered that it cannot take the batch now)."""


def swipe(ssin, kind, employer, when, reference=None, place=None, ddt=None) -> dict:
    item = {
        "clientReference": reference or f"sim-{uuid.uuid4()}",
        "ssin": ssin,
        "type": kind,
        "employer": {"enterpriseNumber": employer},
        "placeOfWork": place or {"coordinates": {"latitude": LATITUDE, "longitude": LONGITUDE}},
        "registeredAt": when.isoformat(),
    }
    if ddt:
        item["workDeclaration"] = ddt
    return item


def generate(count, ssins, employer, duplicates=0, late=0, invalid=0, now=None) -> list[dict]:
    """`count` swipes: alternating IN and OUT per worker, a few seconds apart; then some resent
    (duplicates), some made 15 minutes ago (late) and some with a wrong NISS (invalid)."""
    now = now or datetime.now(UTC)
    items, kinds = [], {}
    for n in range(count):
        ssin = ssins[n % len(ssins)]
        kinds[ssin] = "OUT" if kinds.get(ssin) == "IN" else "IN"
        when = now - timedelta(seconds=(count - n))
        items.append(swipe(ssin, kinds[ssin], employer, when))
    for n in range(late):
        items[-1 - n]["registeredAt"] = (now - timedelta(minutes=15)).isoformat()
    for n in range(invalid):
        items[n]["ssin"] = "00000000000"
    # Resent swipes: valid ones sent a second time, with the same clientReference.
    items.extend(dict(items[n]) for n in range(invalid, min(invalid + duplicates, count)))
    return items


def from_csv(path) -> list[dict]:
    items = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            if row.get("latitude") and row.get("longitude"):
                place = {
                    "coordinates": {
                        "latitude": float(row["latitude"]),
                        "longitude": float(row["longitude"]),
                    }
                }
            else:
                place = {
                    "address": {
                        key: row.get(key, "")
                        for key in (
                            "postCode",
                            "municipalityName",
                            "streetName",
                            "houseNumber",
                            "boxNumber",
                        )
                    }
                }
            when = (
                datetime.fromisoformat(row["registeredAt"])
                if row.get("registeredAt")
                else datetime.now(UTC)
            )
            items.append(
                swipe(
                    row.get("ssin", ""),
                    row.get("type", "IN").upper(),
                    row.get("enterpriseNumber", ""),
                    when,
                    reference=row.get("clientReference") or None,
                    place=place,
                    ddt=row.get("workDeclaration") or None,
                )
            )
    return items


class Spool:
    """Swipes not yet answered by the server, one JSON object a line."""

    def __init__(self, path) -> None:
        self.path = Path(path)

    def load(self) -> list[dict]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def save(self, items: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
        os.replace(temporary, self.path)  # never a half-written spool


def post(url, token, items, language="en", timeout=10.0) -> dict:
    request = urllib.request.Request(  # noqa: S310 (the URL is the operator's)
        url.rstrip("/") + PATH,
        data=json.dumps({"registrations": items}).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept-Language": language,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return json.load(answer)
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")
        if error.code == 429 or error.code >= 500:
            raise Unreachable(f"HTTP {error.code}: {body[:200]}") from error
        # 401, 413, 422: resending will not help; the operator must act.
        raise SystemExit(f"refused by the server, HTTP {error.code}: {body}") from error
    except (urllib.error.URLError, OSError) as error:
        raise Unreachable(str(getattr(error, "reason", error))) from error


def send(url, token, spool: Spool, new_items, language="en", timeout=30.0, out=sys.stdout) -> int:
    """Adds the new swipes to the spool, then sends the spool in batches. Returns how many
    swipes are still waiting (0 when the server answered for all)."""
    pending = spool.load() + list(new_items)
    spool.save(pending)
    while pending:
        batch = pending[:BATCH]
        try:
            answer = post(url, token, batch, language, timeout)
        except Unreachable as error:
            print(
                f"server unreachable ({error}): {len(pending)} swipe(s) kept in {spool.path}",
                file=out,
            )
            return len(pending)
        for result in answer["results"]:
            if result["status"] == "refused":
                print(
                    f"{result['clientReference']}\trefused\t{result['code']}\t{result['message']}",
                    file=out,
                )
            else:
                print(
                    f"{result['clientReference']}\t{result['status']}\tid {result['id']}", file=out
                )
        print(
            f"batch of {len(batch)}: {answer['created']} created, {answer['duplicates']} "
            f"duplicate(s), {answer['refused']} refused",
            file=out,
        )
        pending = pending[BATCH:]
        spool.save(pending)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m api.simulator", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", default=os.environ.get("CLAO_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("CLAO_TOKEN"), help="or CLAO_TOKEN")
    parser.add_argument("--spool", default="var/simulator-spool.jsonl")
    parser.add_argument("--language", default="en", help="Accept-Language of the answers")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for an answer")
    parser.add_argument("--csv", help="swipes to send, one a row")
    parser.add_argument("--generate", type=int, default=0, metavar="N", help="make N swipes")
    parser.add_argument("--ssin", action="append", help="worker(s) of generated swipes")
    parser.add_argument("--employer", help="enterprise number of generated swipes")
    parser.add_argument("--duplicates", type=int, default=0, help="generated swipes sent twice")
    parser.add_argument("--late", type=int, default=0, help="generated swipes 15 minutes old")
    parser.add_argument("--invalid", type=int, default=0, help="generated swipes with a bad NISS")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a token is needed: --token or CLAO_TOKEN (manage.py devices create)")
    items = []
    if args.csv:
        items += from_csv(args.csv)
    if args.generate:
        if not (args.ssin and args.employer):
            parser.error("--generate needs --ssin and --employer")
        items += generate(
            args.generate, args.ssin, args.employer, args.duplicates, args.late, args.invalid
        )
    waiting = send(args.url, args.token, Spool(args.spool), items, args.language, args.timeout)
    return 1 if waiting else 0


if __name__ == "__main__":
    sys.exit(main())
