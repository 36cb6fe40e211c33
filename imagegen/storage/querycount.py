"""Count the SQL statements an engine runs: the tests pin that each page does a fixed number
of them whatever the catalog size (no N+1), and bench/scale.py reports them."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine, event


@contextmanager
def count_statements(engine: Engine | type[Engine]) -> Iterator[list[str]]:
    """Yields a list that fills with every statement the engine sends while the block runs.
    Given the `Engine` class, it counts every engine of the process (a page run through
    AppTest opens its own)."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
