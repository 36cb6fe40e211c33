"""The database: one engine per process, migrations by Alembic, short sessions."""

from __future__ import annotations

import fcntl
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from imagegen.errors import StorageError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION_LOCK_KEY = 0x1A6E6E  # any constant shared by every process of the app


CONNECTIONS = 15  # PostgreSQL connections a process may open for its sessions (5 kept, 10 more on demand)


SQLITE_NEEDED = (3, 35)  # INSERT ... RETURNING: a job's candidates are inserted in one statement


def create_db_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        if sqlite3.sqlite_version_info < SQLITE_NEEDED:
            needed = ".".join(map(str, SQLITE_NEEDED))
            raise StorageError(f"This Python's SQLite is {sqlite3.sqlite_version}; Thumbnail Studio needs {needed} or newer "
                               "(Python 3.11 on Debian 12 has 3.40), or PostgreSQL via IMAGEGEN_DATABASE_URL.")
        # The job thread and the page threads share the file: WAL lets readers run beside the writer.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=CONNECTIONS - 5)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (safe to call at every start, from any process)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with _migration_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Held until commit: web servers and workers starting together migrate one at a time.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Two processes starting at once (the app and the CLI) must not both create the tables."""
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def lock_for_write(session: Session) -> None:
    """Serialise this transaction with every other writer, before it reads what it will decide on.

    Call it first in a transaction. SQLite has one writer: a write as the first statement takes
    the write lock (what BEGIN IMMEDIATE does) and the reads that follow see the newest data.
    PostgreSQL: a transaction-scoped advisory lock, released at commit or rollback.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE agents SET id = id WHERE 0"))
    else:
        session.execute(text("SELECT pg_advisory_xact_lock(7263)"))
