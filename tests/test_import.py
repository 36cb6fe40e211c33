"""Catalog import streams its rows in batches with bounded memory, and refuses files that are too big."""

import csv
import io
import json
import os
import subprocess
import sys
import tracemalloc

import pytest
from sqlalchemy import func, select

from imagegen import catalog
from imagegen.catalog import import_agents, iter_catalog, open_catalog_file, parse_catalog
from imagegen.errors import InvalidInput
from imagegen.records import Agent
from tests.conftest import ROOT

DESCRIPTION = "Turns long meetings into short notes, with owners and dates. " * 12  # store descriptions run long


def rows(n: int, start: int = 0) -> list[dict]:
    return [{"slug": f"bulk-{i:06d}", "agent_name": f"Bulk agent {i}", "sub_heading": "Does one thing well",
             "description": DESCRIPTION, "categories": "productivity, bulk"} for i in range(start, start + n)]


def write(path, items: list[dict]):
    if path.suffix == ".json":
        path.write_text(json.dumps(items, indent=1), encoding="utf-8")
    else:
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(items[0]))
            writer.writeheader()
            writer.writerows(items)
    return path


def cli(*args, **env):
    return subprocess.run([sys.executable, "-m", "imagegen", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env})


def agent_count(ws) -> int:
    with ws.session() as s:
        return s.scalar(select(func.count(Agent.id)))


def test_a_file_over_the_import_limit_is_refused_in_one_line_before_anything_is_read(ws, isolated):
    big = write(isolated / "big.csv", rows(1500))  # about 1.2 MB
    before = agent_count(ws)
    result = cli("import", str(big), IMAGEGEN_IMPORT_MAX_MB="1")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "over the import limit of 1 MB (IMAGEGEN_IMPORT_MAX_MB)" in result.stderr
    assert agent_count(ws) == before
    with pytest.raises(InvalidInput, match="IMAGEGEN_IMPORT_MAX_MB"):
        parse_catalog(big.read_bytes(), "big.csv", max_mb=1)
    assert cli("import", str(big)).returncode == 0  # the default limit is 50 MB


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_import_memory_stays_flat_as_the_file_grows(ws, isolated, suffix):
    def peak_mb(n: int, start: int) -> float:
        """Peak memory of importing n new agents, then of the same file again (all updates)."""
        path = write(isolated / f"agents-{n}{suffix}", rows(n, start))
        peaks = []
        for expected in ("added", "updated"):
            tracemalloc.start()
            try:
                with ws.session() as s, s.begin():
                    report = import_agents(s, open_catalog_file(path))
                peaks.append(tracemalloc.get_traced_memory()[1] / 1e6)
            finally:
                tracemalloc.stop()
            assert getattr(report, expected) == n
        return max(peaks)

    small, large = peak_mb(1_500, 0), peak_mb(9_000, 100_000)
    # Reading every row first, as before, made the peak grow with the file (about 3x here).
    assert large < 2 * small, (small, large)


def test_rows_are_imported_batch_by_batch_with_later_duplicates_winning_and_bad_rows_reported(ws):
    data = rows(7) + [{"slug": "Not A Slug!", "agent_name": "x"}, {"slug": "bulk-000001", "agent_name": "Renamed"},
                      {"slug": "no-name", "agent_name": ""}]
    with ws.session() as s, s.begin():
        report = import_agents(s, iter(data), batch_size=3)
    assert (report.added, report.updated, report.skipped) == (7, 1, 2)
    assert [e.split(":")[0] for e in report.errors] == ["row 8", "row 10"]
    assert ws.get_agent("bulk-000001").name == "Renamed"
    assert ws.get_agent("bulk-000006").categories == ["productivity", "bulk"]


def test_a_json_list_is_decoded_object_by_object_across_read_boundaries(monkeypatch):
    data = [{"slug": f"a-{i}", "name": "x" * i, "categories": ["c", "d"]} for i in range(40)]
    monkeypatch.setattr(catalog, "_CHUNK", 7)  # every object straddles several reads
    body = json.dumps(data, indent=2).encode()
    assert list(iter_catalog(io.BytesIO(body), "a.json")) == data
    assert list(iter_catalog(io.BytesIO(b"  []"), "empty.json")) == []
    assert list(iter_catalog(io.BytesIO(json.dumps({"agents": data[:2]}).encode()), "w.json")) == data[:2]


@pytest.mark.parametrize(("body", "message"), [
    (b'[{"slug": "a-1", "name": "A"}, {"slug": "a-2", "name": ', "agent 2 does not parse"),
    (b'[{"slug": "a-1", "name": "A"} {"slug": "a-2"}]', "expected ',' or ']' after agent 1"),
    (b'[{"slug": "a-1", "name": "A"}, 3]', "JSON list of agent objects"),
    (b"slug,agent_name\na-1,\xff\xfe\n", "not UTF-8 text"),
    (b"name,description\nA,B\n", "no 'slug' column"),
])
def test_a_broken_file_is_one_clear_error_and_imports_nothing(ws, isolated, body, message):
    path = isolated / ("broken.json" if body.startswith(b"[") else "broken.csv")
    path.write_bytes(body)
    before = agent_count(ws)
    with pytest.raises(InvalidInput, match=message):
        with ws.session() as s, s.begin():
            import_agents(s, open_catalog_file(path))
    assert agent_count(ws) == before
