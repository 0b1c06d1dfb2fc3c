"""The badge-reader simulator (python -m api.simulator) against a live server: a real client,
over HTTP, with its spool when the server cannot be reached."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from checkins.models import Registration
from tests.factories import NSI_NUMBER

ROOT = Path(__file__).resolve().parents[1]


def simulator(*args, url, token, spool) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "api.simulator",
            "--url",
            url,
            "--token",
            token,
            "--spool",
            str(spool),
            # A shared test machine may take seconds for a batch of 200.
            "--timeout",
            "240",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def server(live_server, settings):
    # The demo's port check compares the request with SITE_ROOT.
    settings.SITE_ROOT = live_server.url
    settings.CLAO_API_RATE = "1000/m"
    return live_server.url


def test_it_sends_a_generated_batch_with_duplicates_late_and_invalid_swipes(
    server, device, anne, tmp_path
):
    spool = tmp_path / "spool.jsonl"

    run = simulator(
        "--generate",
        "200",
        "--ssin",
        anne.niss,
        "--employer",
        NSI_NUMBER,
        "--duplicates",
        "3",
        "--late",
        "1",
        "--invalid",
        "2",
        url=server,
        token=device.token,
        spool=spool,
    )

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "batch of 200: 197 created, 0 duplicate(s), 3 refused" in lines
    assert "batch of 3: 0 created, 3 duplicate(s), 0 refused" in lines
    assert sum("\trefused\ttoo_late\t" in line for line in lines) == 1
    assert sum("\trefused\tinvalid_ssin\t" in line for line in lines) == 2
    assert Registration.objects.filter(device=device, source="badge").count() == 197
    assert spool.read_text() == ""


def test_it_keeps_swipes_on_disk_while_the_server_is_unreachable_and_sends_them_later(
    server, device, anne, tmp_path
):
    spool = tmp_path / "spool.jsonl"

    offline = simulator(
        "--generate",
        "5",
        "--ssin",
        anne.niss,
        "--employer",
        NSI_NUMBER,
        url=closed_port(),
        token=device.token,
        spool=spool,
    )

    assert offline.returncode == 1
    assert f"5 swipe(s) kept in {spool}" in offline.stdout
    kept = [json.loads(line) for line in spool.read_text().splitlines()]
    assert len(kept) == 5
    assert not Registration.objects.exists()

    online = simulator(url=server, token=device.token, spool=spool)

    assert online.returncode == 0, online.stderr
    assert "batch of 5: 5 created, 0 duplicate(s), 0 refused" in online.stdout
    stored = Registration.objects.filter(device=device).order_by("swiped_at")
    assert [r.idempotency_key for r in stored] == [item["clientReference"] for item in kept]
    assert spool.read_text() == ""


def test_it_sends_swipes_from_a_csv_in_the_senders_language(server, device, anne, tmp_path):
    swipes = tmp_path / "swipes.csv"
    swipes.write_text(
        "clientReference,ssin,type,enterpriseNumber,latitude,longitude\n"
        f"csv-1,{anne.niss},IN,{NSI_NUMBER},50.8357,4.3365\n"
        f"csv-2,{anne.niss},OUT,{NSI_NUMBER},48.85,2.35\n"
    )

    run = simulator(
        "--csv",
        str(swipes),
        "--language",
        "fr",
        url=server,
        token=device.token,
        spool=tmp_path / "s",
    )

    assert run.returncode == 0, run.stderr
    assert "csv-1\tcreated\tid " in run.stdout
    assert "csv-2\trefused\tplace_outside_belgium\t" in run.stdout
    assert "This position is not in Belgium." not in run.stdout
    assert Registration.objects.get().idempotency_key == "csv-1"
