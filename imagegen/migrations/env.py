"""Alembic environment: runs on the connection `imagegen.storage.db.migrate` hands over,
or on `sqlalchemy.url` when called from the alembic command line."""

from alembic import context
from sqlalchemy import create_engine

from imagegen.listings import include_in_autogenerate
from imagegen.records import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                          include_name=include_in_autogenerate)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      include_name=include_in_autogenerate)
    with context.begin_transaction():
        context.run_migrations()
