"""Open-loop load: check-in POSTs sent at a fixed rate, whatever the server's answers.

wrk keeps a fixed number of connections busy (a closed loop): when the server slows down, it
sends less, and its latencies hide the queue ("coordinated omission"). This sends request i at
start + i / rate on a connection of its own and measures from that planned moment to the last
byte of the answer, so time spent waiting for a free gunicorn worker counts. Run by bench/web.py
as a separate process:

    python bench/openloop.py --port 8190 --rate 170 --seconds 20 --data FILE --csrf S --run R

Prints one JSON object: offered and achieved rate, p50/p95/p99/max in ms, errors, acks (ids).
"""

import argparse
import asyncio
import json
import re
import time

LOCATION = re.compile(rb"\r\nLocation: /registrations/(\d+)/\r\n", re.IGNORECASE)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def one(args, index: int, planned: float, session: str, results: dict) -> None:
    token = f"{args.run}-ffff-4000-8000-{index:012x}"
    body = (
        f"csrfmiddlewaretoken={args.csrf}&client_token={token}&kind=IN"
        "&enterprise_number=0450905686&ddt_choice=unknown"
        "&latitude=50.846557&longitude=4.351697&accuracy=12"
    ).encode()
    head = (
        f"POST /registrations/new/ HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n"
        f"Cookie: sessionid={session}; csrftoken={args.csrf}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        async with asyncio.timeout(args.timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
            writer.write(head + body)
            await writer.drain()
            answer = await reader.read()
            writer.close()
    except (OSError, TimeoutError):
        results["errors"] += 1
        return
    results["latencies"].append(time.monotonic() - planned)
    match = LOCATION.search(answer)
    if answer.startswith(b"HTTP/1.1 302") and match:
        results["acks"].append(int(match.group(1)))
    else:
        results["errors"] += 1


async def main(args) -> dict:
    with open(args.data) as data:
        sessions = [line.split("\t")[0] for line in data.read().splitlines() if line]
    results = {"latencies": [], "acks": [], "errors": 0}
    total = int(args.rate * args.seconds)
    tasks = []
    start = time.monotonic() + 0.1
    for index in range(total):
        planned = start + index / args.rate
        delay = planned - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        session = sessions[index % len(sessions)]
        tasks.append(asyncio.create_task(one(args, index, planned, session, results)))
    sent_in = time.monotonic() - start
    await asyncio.gather(*tasks)
    ms = [value * 1000 for value in results["latencies"]]
    return {
        "offered_per_s": args.rate,
        "sent": total,
        "sent_per_s": round(total / sent_in, 1) if sent_in else 0.0,
        "answered": len(ms),
        "errors": results["errors"],
        "p50_ms": round(percentile(ms, 0.50), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "max_ms": round(max(ms, default=0.0), 1),
        "acks": results["acks"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=170)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--data", required=True)
    parser.add_argument("--csrf", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--timeout", type=float, default=10)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
