"""Badge readers' load: batches of 200 swipes sent to /api/v1/presence-registrations.

Run by bench/web.py as a separate process, against its gunicorn server:

    python bench/api_load.py --port 8190 --token clao_... --workers FILE --run R \\
        [--seconds 10] [--connections 1] [--size 200]

Each connection is one reader: it sends its batches one after the other on a kept-alive
connection (a reader waits for the answer before it sends the next batch), for its own
workers (readers of different sites do not name the same workers): in every batch each worker
swipes IN, then OUT. Every connection sends at least one batch. Each batch is timed from the
first byte sent to the last byte of the answer; an answer that is not a 200 storing every item
counts as unexpected.

Prints one JSON object: batches, batches/s, items/s, p50/p95/p99/max per batch in ms, errors,
unexpected, and acks (the ids of the stored items, checked against the database by web.py).
"""

import argparse
import http.client
import json
import threading
import time
from datetime import UTC, datetime, timedelta


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def batch_body(args, workers: list[str], reader: int, number: int) -> bytes:
    now = datetime.now(UTC)
    half = args.size // 2
    items = [
        {
            "clientReference": f"{args.run}-api-{reader}-{number}-{n}",
            "ssin": workers[n % half % len(workers)],
            "type": "IN" if n < half else "OUT",
            "employer": {"enterpriseNumber": args.employer},
            "placeOfWork": {"coordinates": {"latitude": 50.846557, "longitude": 4.351697}},
            "registeredAt": (now - timedelta(seconds=2)).isoformat(),
        }
        for n in range(args.size)
    ]
    return json.dumps({"registrations": items}).encode()


def reader(args, index: int, workers: list[str], deadline: float, results: dict, lock) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.timeout)
    headers = {
        "Authorization": f"Bearer {args.token}",
        "Content-Type": "application/json",
        "Accept-Language": "en",
    }
    number = 0
    while number == 0 or time.monotonic() < deadline:
        body = batch_body(args, workers, index, number)
        number += 1
        start = time.monotonic()
        try:
            connection.request("POST", "/api/v1/presence-registrations", body, headers)
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException):
            with lock:
                results["errors"] += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.timeout)
            continue
        elapsed = time.monotonic() - start
        stored = []
        if response.status == 200:
            parsed = json.loads(answer)
            stored = [r["id"] for r in parsed["results"] if r["status"] == "created"]
        with lock:
            results["latencies"].append(elapsed)
            results["acks"].extend(stored)
            if len(stored) != args.size:
                results["unexpected"] += 1
    connection.close()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--workers", required=True, help="a file of NISS numbers, one a line")
    parser.add_argument("--run", required=True, help="every clientReference starts with it")
    parser.add_argument("--employer", default="0450905686")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args(argv)
    with open(args.workers) as data:
        niss = [line.strip() for line in data if line.strip()]
    share = len(niss) // args.connections
    results = {"latencies": [], "acks": [], "errors": 0, "unexpected": 0}
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + args.seconds
    threads = [
        threading.Thread(
            target=reader,
            args=(args, i, niss[i * share : (i + 1) * share], deadline, results, lock),
        )
        for i in range(args.connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - start
    ms = [value * 1000 for value in results["latencies"]]
    return {
        "size": args.size,
        "connections": args.connections,
        "seconds": round(seconds, 2),
        "batches": len(ms),
        "batches_per_s": round(len(ms) / seconds, 2) if seconds else 0.0,
        "items_per_s": round(len(results["acks"]) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(percentile(ms, 0.50), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "max_ms": round(max(ms), 1) if ms else 0.0,
        "errors": results["errors"],
        "unexpected": results["unexpected"],
        "acks": results["acks"],
    }


if __name__ == "__main__":
    print(json.dumps(main()))
