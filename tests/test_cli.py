import hashlib
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from imagegen.cli import main
from imagegen.generation import run_generation, start_generation
from imagegen.recipes import make_spec
from tests.conftest import ROOT


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "imagegen", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def digests(folder):
    return sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir())


def test_generate_writes_four_distinct_valid_images_in_the_aspect(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", "--agent", "podcast-clipper", "--provider", "local", "--count", "4", "--out", str(out), "--seed", "42", "--aspect", "4x3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "succeeded" and len(summary["candidates"]) == 4
    files = sorted(out.iterdir())
    assert len(files) == 4 and len(set(digests(out))) == 4
    for path in files:
        with Image.open(path) as im:
            im.verify()
        assert Image.open(path).size == (1280, 960)
    assert [c["seed"] for c in summary["candidates"]] == [42, 43, 44, 45]


def test_the_same_seed_writes_the_same_images(tmp_path, capsys):
    for name in ("a", "b"):
        assert main(["generate", "--agent", "sql-sherpa", "--count", "3", "--seed", "7", "--out", str(tmp_path / name), "--palette", "EMBER"]) == 0
    assert digests(tmp_path / "a") == digests(tmp_path / "b")


def test_errors_are_one_clear_line_without_a_traceback(tmp_path):
    cases = [
        (["generate", "--agent", "nobody", "--out", "o"], "No agent with slug 'nobody'"),
        (["generate", "--agent", "ai", "--out", "o", "--count", "9"], "count: Input should be less than or equal to 8"),
        (["generate", "--agent", "ai", "--out", "o", "--palette", "#12"], "not a colour"),
        (["generate", "--agent", "ai", "--out", "o", "--aspect", "7x5"], "aspect ratio '7x5' is not one of"),
        (["generate", "--agent", "ai", "--out", "o", "--provider", "dall-e"], "Unknown provider 'dall-e'"),
        (["generate", "--agent", "ai", "--out", "o", "--template", "nope"], "No template 'nope'"),
        (["import", "missing.csv"], "No such file: missing.csv"),
        (["approve", "12345"], "No candidate 12345"),
    ]
    for args, message in cases:
        result = run_cli(*args, env={"IMAGEGEN_DATA_DIR": str(tmp_path / "data")})
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, result.stderr)


def test_a_no_key_attempt_is_refused_in_one_line_and_not_recorded(tmp_path):
    data = tmp_path / "data"
    result = run_cli("generate", "--agent", "sql-sherpa", "--provider", "ideogram", "--out", "o", env={"IMAGEGEN_DATA_DIR": str(data)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: The ideogram provider needs an API key: set IDEOGRAM_API_KEY in the environment, in .env or in .streamlit/secrets.toml."
    ]
    from imagegen.review import other_runs, studio_board
    from imagegen.settings import Settings
    from imagegen.jobs import open_workspace

    ws = open_workspace(Settings(data_dir=data))
    assert other_runs(ws, "sql-sherpa") == [] and studio_board(ws, "sql-sherpa") is None


def test_a_cli_run_is_labelled_and_never_becomes_the_studio_board(tmp_path, capsys, ws):
    assert main(["generate", "--agent", "sql-sherpa", "--count", "1", "--out", str(tmp_path / "o")]) == 0
    from imagegen.review import other_runs, studio_board

    [run] = other_runs(ws, "sql-sherpa")
    assert run.source.value == "cli" and run.label.startswith(f"Generation #{run.id} from CLI · 1 × local")
    assert studio_board(ws, "sql-sherpa") is None


def test_agents_lists_the_sample_catalog(capsys):
    assert main(["agents"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 12
    names = {r["name"] for r in rows}
    assert {"Квантовый планировщик", "Café Crème Copywriter", "Travel Scout 旅行"} <= names


def test_import_a_json_list_adds_updates_and_reports_bad_rows(tmp_path, capsys):
    path = tmp_path / "agents.json"
    path.write_text(json.dumps([
        {"slug": "new-one", "name": "New One", "categories": "research, data"},
        {"slug": "trend-radar", "agent_name": "Trend Radar 2"},
        {"slug": "Bad Slug!", "name": "x"},
        {"slug": "no-name"},
    ]))
    assert main(["import", str(path)]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"added": 1, "updated": 1, "errors": 2}
    assert "row 3: slug" in captured.err and "row 4: name" in captured.err


def test_approve_sets_the_thumbnail_and_remembers_the_previous(ws, capsys):
    import asyncio

    spec = make_spec(ws, ws.get_agent("bug-hunter"), provider="local", count=2, seed=1)
    gen_id = start_generation(ws, "bug-hunter", spec)
    asyncio.run(run_generation(ws, gen_id))
    first, second = ws.get_generation(gen_id).candidates
    assert main(["approve", str(first.id), "--by", "dana"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert main(["approve", str(second.id)]) == 0
    two = json.loads(capsys.readouterr().out)
    assert one["previous"] is None and two["previous"] == one["thumbnail"]
    assert one["by"] == "dana" and two["by"] == "curator"
    assert two["publishing"]["status"] == "published"
    assert (ws.settings.published_dir / "bug-hunter.png").read_bytes() == ws.media.get(two["thumbnail"])
    assert ws.get_agent("bug-hunter").current_thumbnail == two["thumbnail"]


@pytest.mark.needs_shared
def test_the_store_export_imports_intact_and_every_agent_renders(shared_dir, ws, capsys):
    import asyncio
    import csv

    export = shared_dir / "data" / "autogpt-store-agents.csv"
    rows = list(csv.DictReader(export.open(encoding="utf-8")))
    assert main(["import", str(export)]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == len(rows)
    for row in rows:
        agent = ws.get_agent(row["slug"])
        assert agent.name == row["agent_name"]
        assert agent.sub_heading == row["sub_heading"]
        assert agent.categories == [c for c in json.loads(row["categories"]) if c.strip()]  # blanks dropped
        spec = make_spec(ws, agent, provider="local", count=1, seed=3)
        gen_id = start_generation(ws, agent.slug, spec)
        assert asyncio.run(run_generation(ws, gen_id)).value == "succeeded", agent.slug


def test_saved_templates_are_listed_and_used(tmp_path, capsys):
    assert main(["template", "short", "A {subject} badge in {categories} colours"]) == 0
    assert json.loads(capsys.readouterr().out)["short"] == "A {subject} badge in {categories} colours"
    assert main(["generate", "--agent", "trend-radar", "--template", "short", "--count", "1", "--out", str(tmp_path / "o")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["recipe"]["prompt"] == "A Trend Radar (Spot rising topics before your competitors do) badge in marketing, research colours"
    assert main(["template", "bad", "A {price} tag"]) == 1
    assert "{price}" in capsys.readouterr().err
    assert main(["template", "pop-art", "{name}"]) == 1


def test_batch_prints_candidate_ids_and_files_and_show_prints_a_generation(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["batch", "--slugs", "ai,sql-sherpa", "--count", "2", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    [ai, sql] = summary["items"]
    ids = [c["id"] for c in ai["candidates"] + sql["candidates"]]
    assert sorted(ids) == [1, 2, 3, 4] and all(Image.open(c["file"]).size for c in sql["candidates"])  # agents run in parallel
    assert main(["approve", str(sql["candidates"][1]["id"])]) == 0  # approvable from the terminal, no SQL needed
    capsys.readouterr()
    assert main(["show", str(sql["generation"]), "--out", str(tmp_path / "shown")]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["agent"], shown["source"], [c["id"] for c in shown["candidates"]]) == (
        "sql-sherpa", "batch", [c["id"] for c in sql["candidates"]])
    assert len(list((tmp_path / "shown").iterdir())) == 2
