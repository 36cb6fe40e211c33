from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from imagegen.storage.db import MIGRATIONS, create_db_engine, migrate


def test_migrations_run_down_and_up_again_and_match_the_models(tmp_path, database_url):
    engine = create_db_engine(database_url or f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
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
