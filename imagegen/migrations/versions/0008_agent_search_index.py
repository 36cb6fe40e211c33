"""typed agent search through an index: trigrams of name, slug and categories

Revision ID: 0008
Revises: 0009

A search box matches any part of a name, slug or category, so a B-tree cannot serve it.
PostgreSQL: pg_trgm's GIN index on the three expressions `imagegen.listings.agent_query`
filters on. SQLite: an FTS5 table with the trigram tokenizer over the same three columns
(external content: it stores only the index), kept in step with `agents` by triggers, so
every write, ORM or bulk, is indexed.

Careful in later migrations: a batch ("move and copy") rebuild of `agents` on SQLite drops
these triggers; create them again after one (tests/test_listings.py notices).
"""
from alembic import op

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = "name, slug, categories"
_SQLITE = [
    f"CREATE VIRTUAL TABLE agents_search USING fts5({_COLUMNS}, content='agents', content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER agents_search_insert AFTER INSERT ON agents BEGIN "
    f"INSERT INTO agents_search (rowid, {_COLUMNS}) VALUES (new.id, new.name, new.slug, new.categories); END",
    f"CREATE TRIGGER agents_search_delete AFTER DELETE ON agents BEGIN "
    f"INSERT INTO agents_search (agents_search, rowid, {_COLUMNS}) VALUES ('delete', old.id, old.name, old.slug, old.categories); END",
    f"CREATE TRIGGER agents_search_update AFTER UPDATE OF {_COLUMNS} ON agents BEGIN "
    f"INSERT INTO agents_search (agents_search, rowid, {_COLUMNS}) VALUES ('delete', old.id, old.name, old.slug, old.categories); "
    f"INSERT INTO agents_search (rowid, {_COLUMNS}) VALUES (new.id, new.name, new.slug, new.categories); END",
    "INSERT INTO agents_search (agents_search) VALUES ('rebuild')",  # the agents already there
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_agents_search ON agents USING gin "
            "(lower(name) gin_trgm_ops, slug gin_trgm_ops, lower(CAST(categories AS TEXT)) gin_trgm_ops)"
        )
    else:
        for statement in _SQLITE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_agents_search")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER agents_search_{trigger}")
        op.execute("DROP TABLE agents_search")
