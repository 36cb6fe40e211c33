"""A throwaway PostgreSQL server for the test session: Debian's binaries, a temporary folder,
a unix socket in that folder (no port to collide on), stopped and deleted at the end.

`pg_ctl` refuses to run as root, so as root the server runs as an unprivileged system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SUPERUSER = "imagegen"
LIFETIME = 3600  # seconds: a server outliving a stuck session this long is stopped anyway
SERVICE_USER = "imagegen-pg"
# Durability is pointless for a throwaway cluster; these make CREATE DATABASE and commits cheap.
FAST = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB "
        "-c max_connections=200 -c listen_addresses=''")


class Unavailable(Exception):
    """This machine cannot run a PostgreSQL server for the tests; the message says why."""


def find_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise Unavailable("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install postgresql")
    return Path(found[-1]).parent


def _service_user() -> str | None:
    """None when we are not root (the server then runs as us)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                              capture_output=True)
        if made.returncode != 0:
            return "nobody"
    return SERVICE_USER


class PgCluster:
    def __init__(self):
        self.bin = find_bin()
        self.user = _service_user()
        self.root = Path(tempfile.mkdtemp(prefix="imagegen-pg-"))
        self.data = self.root / "data"
        self._counter = 0

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        return ["runuser", "-u", self.user, "--", *cmd] if self.user else cmd

    def _run(self, *args: str) -> None:
        done = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise Unavailable(f"{args[0]} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> "PgCluster":
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  "-o", f"{FAST} -c unix_socket_directories={self.root}", "start")
        self._watchdog = self._start_watchdog()
        self.admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        return self

    def _start_watchdog(self) -> subprocess.Popen:
        """The server must not outlive this session, even a killed one: a small shell waits for
        our process to end (or LIFETIME to pass), then stops the server and deletes its folder."""
        stop = shlex.join(self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"))
        script = (f"end=$(( $(date +%s) + {LIFETIME} )); "
                  f"while kill -0 {os.getpid()} 2>/dev/null && [ $(date +%s) -lt $end ]; do sleep 1; done; "
                  f"{stop}; rm -rf {shlex.quote(str(self.root))}")
        return subprocess.Popen(["sh", "-c", script], start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.root}"

    def execute(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def create_template(self, migrate) -> str:
        """A database migrated once; each test's database is a cheap copy of it."""
        self.execute("CREATE DATABASE imagegen_template")
        engine = create_engine(self.url("imagegen_template"))
        try:
            migrate(engine)
        finally:
            engine.dispose()  # a template with open connections cannot be copied
        return "imagegen_template"

    def fresh_database(self, template: str) -> str:
        self._counter += 1
        name = f"test_{os.getpid()}_{self._counter}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE {template}')
        return self.url(name)

    def drop(self, url: str) -> None:
        # FORCE: a test may leave a workspace (and its pool) open; the database goes anyway.
        self.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            self._watchdog.kill()  # our own process, by its handle
            self._watchdog.wait(timeout=10)
            self.admin.dispose()
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
