"""The suite runs on SQLite and on PostgreSQL through one fixture; these pin that it really does."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import pg
from tests.conftest import BACKEND, ROOT


def test_each_test_gets_the_backend_the_session_asked_for(ws):
    assert ws.engine.dialect.name == BACKEND


def test_a_cli_subprocess_writes_to_the_same_database_as_the_test(ws, isolated):
    (isolated / "one.json").write_text('[{"slug": "from-the-cli", "name": "From the CLI"}]')
    done = subprocess.run([sys.executable, "-m", "imagegen", "import", str(isolated / "one.json")],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert ws.get_agent("from-the-cli").name == "From the CLI"


@pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL only (IMAGEGEN_TEST_BACKEND=postgresql)")
def test_processes_starting_together_on_an_empty_postgresql_database_all_migrate_it(pg_cluster):
    pg_cluster.execute('CREATE DATABASE "empty_for_migration"')
    url = pg_cluster.url("empty_for_migration")
    # Each process imports first, then all start migrating at the same instant.
    code = ("import sys, time; from imagegen.storage.db import create_db_engine, migrate; "
            "engine = create_db_engine(sys.argv[1]); time.sleep(max(0, float(sys.argv[2]) - time.time())); migrate(engine)")
    start = str(time.time() + 4)
    procs = [subprocess.Popen([sys.executable, "-c", code, url, start], env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    pg_cluster.drop(url)
    assert [p.returncode for p in procs] == [0] * 4, errors


@pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL only (IMAGEGEN_TEST_BACKEND=postgresql)")
def test_a_killed_test_session_leaves_no_postgresql_server_behind(isolated):
    session = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from tests.pg import PgCluster; c = PgCluster().start(); "
                               "print(c.root, flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    root = Path(session.stdout.readline().strip())
    server_pid = int((root / "data" / "postmaster.pid").read_text().split()[0])
    session.kill()  # like a CI job cancelled mid-run: no fixture teardown happens
    session.wait(timeout=10)
    deadline = time.monotonic() + 30
    while root.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = root.exists()
    if left:  # the watchdog failed: clean up here so the failure does not leak a server
        subprocess.run(["runuser", "-u", pg.SERVICE_USER, "--", str(pg.find_bin() / "pg_ctl"), "-D", str(root / "data"),
                        "-m", "immediate", "-w", "stop"] if os.geteuid() == 0 else
                       [str(pg.find_bin() / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w", "stop"])
    assert not left
    stat = Path(f"/proc/{server_pid}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"  # gone (or a zombie nobody reaped)
