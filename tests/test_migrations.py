import contextlib
import sqlite3

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from imagegen.errors import StorageError
from imagegen.storage.db import MIGRATIONS, create_db_engine, migrate


@contextlib.contextmanager
def migrated(engine):
    """A database at the newest migration, and Alembic's config on one transaction of it."""
    migrate(engine)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        yield cfg, conn


def test_migrations_run_down_and_up_again_and_match_the_models(tmp_path, database_url):
    engine = create_db_engine(database_url or f"sqlite:///{tmp_path / 'm.db'}")
    with migrated(engine) as (cfg, conn):
        command.downgrade(cfg, "0001")
        assert "batches" not in inspect(conn).get_table_names()
        command.upgrade(cfg, "head")
    tables = set(inspect(engine).get_table_names())
    assert {"agents", "generations", "candidates", "approvals", "experiments", "batches", "batch_items"} <= tables
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from imagegen.listings import include_in_autogenerate
    from imagegen.records import Base

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include_in_autogenerate})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_the_budget_day_migration_keeps_a_database_that_has_jobs_in_it(tmp_path, database_url):
    """Review: 0012 first rebuilt `generations` on SQLite to make the new column NOT NULL, and the
    rebuild's DROP TABLE was refused while candidates pointed at it (foreign keys are on): the
    app could not start on any database with a job in it."""
    from sqlalchemy import text

    engine = create_db_engine(database_url or f"sqlite:///{tmp_path / 'm.db'}")
    with migrated(engine) as (cfg, conn):
        command.downgrade(cfg, "0011")
        conn.execute(text("INSERT INTO agents (slug, name, sub_heading, description, categories, updated_at) "
                          "VALUES ('a', 'A', '', '', '[]', '2026-11-23 10:00:00+00:00')"))
        conn.execute(text("INSERT INTO generations (agent_id, spec, status, cost_usd, reserved_usd, source, created_at) "
                          "SELECT id, '{}', 'succeeded', 0.12, 0, 'studio', '2026-11-23 10:00:00+00:00' FROM agents"))
        conn.execute(text("INSERT INTO candidates (generation_id, position, seed, status, created_at) "
                          "SELECT id, 0, 1, 'succeeded', created_at FROM generations"))
    migrate(engine)  # what every start does
    with engine.connect() as conn:
        [(created, charged)] = conn.execute(text("SELECT created_at, charged_at FROM generations")).all()
        assert charged == created and conn.execute(text("SELECT count(*) FROM candidates")).scalar() == 1
    engine.dispose()


def test_a_sqlite_too_old_for_the_app_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.34.1")
    with pytest.raises(StorageError, match=r"SQLite is 3\.34\.1; Thumbnail Studio needs 3\.35 or newer") as refused:
        create_db_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert "\n" not in str(refused.value)
