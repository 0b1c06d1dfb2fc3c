"""bin/cluster's generated configuration: HAProxy accepts it, PgBouncer pools per transaction.

Bringing the cluster up is too slow for this suite (bin/cluster up, then bin/cluster
failover-test: see README, "Operating several nodes"); its files are checked here.
"""

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    state = tmp_path_factory.mktemp("cluster")
    result = subprocess.run(
        [ROOT / "bin" / "cluster", "configs"],
        env=os.environ | {"CLAO_CLUSTER_DIR": str(state)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return state


def test_it_writes_a_balancer_config_that_haproxy_accepts(generated):
    config = generated / "etc" / "haproxy.cfg"
    text = config.read_text()
    assert "bind 127.0.0.1:8200" in text
    assert "server node1 127.0.0.1:8201 check" in text
    assert "server node2 127.0.0.1:8202 check" in text
    assert "http-check send meth GET uri /readyz" in text
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (bin/cluster up installs it)")
    result = subprocess.run(
        [haproxy, "-c", "-f", config], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_writes_a_transaction_pooling_pgbouncer_config(generated):
    ini = configparser.ConfigParser()
    ini.read(generated / "pgbouncer" / "pgbouncer.ini")
    assert ini["pgbouncer"]["pool_mode"] == "transaction"
    assert ini["pgbouncer"]["listen_addr"] == "127.0.0.1"
    assert ini["pgbouncer"]["listen_port"] == "6432"
    assert ini["databases"]["clao_cluster"] == "host=127.0.0.1 port=5432 dbname=clao_cluster"
    userlist = generated / "pgbouncer" / "userlist.txt"
    assert userlist.stat().st_mode & 0o077 == 0
    assert userlist.read_text().startswith('"clao" "')


def test_it_gives_the_nodes_production_settings_for_a_pooler_and_a_replica(generated):
    result = subprocess.run(
        [ROOT / "bin" / "cluster", "env"],
        env=os.environ | {"CLAO_CLUSTER_DIR": str(generated)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    env = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert env["DEBUG"] == "0"
    assert len(env["SECRET_KEY"]) >= 50
    assert env["DATABASE_URL"].endswith("@127.0.0.1:6432/clao_cluster")
    assert env["DB_TRANSACTION_POOLING"] == "1"
    assert env["DATABASE_REPLICA_URL"].endswith("@127.0.0.1:5433/clao_cluster")
    assert env["SESSION_ENGINE"] == "cached_db"
    assert env["CACHE_URL"].startswith("redis://127.0.0.1:6379/")
