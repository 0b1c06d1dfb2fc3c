"""Open-loop load: check-in POSTs sent at a fixed rate, whatever the server's answers.

wrk keeps a fixed number of connections busy (a closed loop): when the server slows down, it
sends less, and its latencies hide the queue ("coordinated omission"). This sends request i at
start + i / rate on a connection of its own and measures from that planned moment to the last
byte of the answer, so time spent waiting for a free gunicorn worker counts. Run by bench/web.py
as a separate process:

    python bench/openloop.py --port 8190 --rate 170 --seconds 20 --data FILE --csrf S --run R

Prints one JSON object: offered and achieved rate, p50/p95/p99/max in ms, errors, acks (ids).
It shares the machine's CPUs with the server it measures: one thread, non-blocking sockets and
epoll (asyncio's streams cost it four times the CPU a request).
"""

import argparse
import errno
import json
import re
import selectors
import socket
import time

LOCATION = re.compile(rb"\r\nLocation: /registrations/(\d+)/\r\n", re.IGNORECASE)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def request(args, index: int, session: str) -> bytes:
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
    return head + body


class Exchange:
    """One request on a connection of its own: connect, send, read until the server closes."""

    def __init__(self, planned: float, payload: bytes) -> None:
        self.planned, self.payload, self.answer = planned, payload, bytearray()


def run(args) -> dict:
    with open(args.data) as data:
        sessions = [line.split("\t")[0] for line in data.read().splitlines() if line]
    total = int(args.rate * args.seconds)
    latencies, acks, errors = [], [], 0
    selector = selectors.DefaultSelector()
    address = ("127.0.0.1", args.port)
    open_ = 0
    start = time.monotonic() + 0.1
    sent_in = 0.0
    index = 0
    checked = start

    def finish(sock, exchange, ok: bool) -> None:
        nonlocal open_, errors
        selector.unregister(sock)
        sock.close()
        open_ -= 1
        if not ok:
            errors += 1
            return
        latencies.append(time.monotonic() - exchange.planned)
        answer = bytes(exchange.answer)
        match = LOCATION.search(answer)
        if answer.startswith(b"HTTP/1.1 302") and match:
            acks.append(int(match.group(1)))
        else:
            errors += 1

    while index < total or open_:
        now = time.monotonic()
        while index < total and start + index / args.rate <= now:
            planned = start + index / args.rate
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            code = sock.connect_ex(address)
            exchange = Exchange(planned, request(args, index, sessions[index % len(sessions)]))
            open_ += 1
            if code not in (0, errno.EINPROGRESS):
                selector.register(sock, selectors.EVENT_READ, exchange)
                finish(sock, exchange, False)
            else:
                selector.register(sock, selectors.EVENT_WRITE, exchange)
            index += 1
            if index == total:
                sent_in = time.monotonic() - start
        due = start + index / args.rate - time.monotonic() if index < total else args.timeout
        for key, events in selector.select(max(0.0, min(due, args.timeout))):
            sock, exchange = key.fileobj, key.data
            try:
                if events & selectors.EVENT_WRITE:
                    sent = sock.send(exchange.payload)
                    exchange.payload = exchange.payload[sent:]
                    if not exchange.payload:
                        selector.modify(sock, selectors.EVENT_READ, exchange)
                    continue
                chunk = sock.recv(65536)
            except OSError:
                finish(sock, exchange, False)
                continue
            if chunk:
                exchange.answer += chunk
            else:
                finish(sock, exchange, True)
        # Gives up on answers later than the timeout (looked for ten times a second).
        if time.monotonic() - checked > 0.1:
            checked = time.monotonic()
            for key in list(selector.get_map().values()):
                if key.data.planned < checked - args.timeout:
                    finish(key.fileobj, key.data, False)
    ms = [value * 1000 for value in latencies]
    return {
        "offered_per_s": args.rate,
        "sent": total,
        "sent_per_s": round(total / sent_in, 1) if sent_in else 0.0,
        "answered": len(ms),
        "errors": errors,
        "p50_ms": round(percentile(ms, 0.50), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "max_ms": round(max(ms, default=0.0), 1),
        "acks": acks,
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
    print(json.dumps(run(parser.parse_args())))
