"""Roles: who is who, and the library refusing what a role may not do, whoever calls it."""

from __future__ import annotations

import asyncio
import csv
import io
import socket

import pytest
from sqlalchemy import select

from imagegen.approval import approve_candidate
from imagegen.auth import Actor, Role, actor_for, local_admin, require
from imagegen.batch import create_batch, select_agents
from imagegen.catalog import fetch_store_catalog, import_catalog, update_agent_text
from imagegen.cli import main
from imagegen.errors import NotAllowed
from imagegen.experiments import export_csv, result_rows, save_experiment, start_missing_cells
from imagegen.export import write_csv
from imagegen.generation import run_generation, start_generation
from imagegen.history import revert_to
from imagegen.publish import retry_publishing
from imagegen.recipes import make_spec, save_template
from imagegen.records import Batch, CatalogImport, Experiment, Generation, PromptTemplate
from imagegen.settings import Settings
from tests.fake_store import FakeStore
from tests.loopback import JsonHandler, LoopbackServer

VIEWER = Actor("vic@example.test", Role.VIEWER)
CURATOR = Actor("cora@example.test", Role.CURATOR)
ADMIN = Actor("ada@example.test", Role.ADMIN)


def test_roles_come_from_emails_domains_star_and_an_optional_claim(monkeypatch):
    monkeypatch.setenv("IMAGEGEN_ADMINS", "Ada@Example.test")
    monkeypatch.setenv("IMAGEGEN_CURATORS", "@curators.test, cora@example.test")
    monkeypatch.setenv("IMAGEGEN_VIEWERS", "vic@example.test")
    settings = Settings()
    assert actor_for("ada@example.test", settings).role is Role.ADMIN
    assert actor_for("anyone@curators.test", settings).role is Role.CURATOR
    assert actor_for("anyone@evilcurators.test", settings) is None  # a domain entry is the whole domain
    assert actor_for("vic@example.test", settings).role is Role.VIEWER
    assert actor_for("stranger@example.test", settings) is None
    monkeypatch.setenv("IMAGEGEN_VIEWERS", "*")
    assert Settings().viewers == "*" and actor_for("stranger@example.test", Settings()).role is Role.VIEWER
    monkeypatch.setenv("IMAGEGEN_ROLE_CLAIM", "groups")
    settings = Settings()
    assert actor_for("x@elsewhere.test", settings, {"groups": ["staff", "curator"]}).role is Role.CURATOR
    assert actor_for("ada@example.test", settings, {"groups": ["viewer"]}).role is Role.ADMIN  # the highest wins


def test_refusals_are_one_clear_line_naming_the_role_needed():
    with pytest.raises(NotAllowed, match="Only a curator may approve a thumbnail; vic@example.test is a viewer"):
        require(VIEWER, "approve")
    with pytest.raises(NotAllowed, match="Only an admin may revert a thumbnail"):
        require(CURATOR, "revert")
    with pytest.raises(NotAllowed, match="Sign in"):
        require(None, "view")
    assert require(ADMIN, "publish") is ADMIN


def _generate(ws, actor, slug="pixel-poster"):
    spec = make_spec(ws, ws.get_agent(slug), provider="local", count=1, seed=3)
    gen_id = start_generation(ws, slug, spec, actor=actor)
    asyncio.run(run_generation(ws, gen_id))
    return ws.get_generation(gen_id)


def test_a_viewer_is_refused_every_change_and_nothing_is_written(ws):
    spec = make_spec(ws, ws.get_agent("pixel-poster"), provider="local", count=1)
    gen = _generate(ws, CURATOR)
    attempts = [
        lambda: start_generation(ws, "pixel-poster", spec, actor=VIEWER),
        lambda: approve_candidate(ws, gen.candidates[0].id, actor=VIEWER),
        lambda: save_template(ws, "mine", "{name}", actor=VIEWER),
        lambda: create_batch(ws, select_agents(ws, slugs=["pixel-poster"]), {"provider": "local"}, actor=VIEWER),
        lambda: save_experiment(ws, "e", ["pixel-poster"], {"seed": [1]}, {"provider": "local"}, actor=VIEWER),
        lambda: import_catalog(ws, [{"slug": "new-one", "name": "New"}], actor=VIEWER),
    ]
    for attempt in attempts:
        with pytest.raises(NotAllowed):
            attempt()
    with ws.session() as s:
        assert s.scalar(select(Generation).where(Generation.id != gen.id)) is None
        assert s.scalar(select(PromptTemplate)) is None and s.scalar(select(Batch)) is None
        assert s.scalar(select(Experiment)) is None and s.scalar(select(CatalogImport)) is None
    assert ws.get_agent("pixel-poster").current_thumbnail is None


def test_a_curator_may_not_revert_import_edit_or_retry_publishing(ws):
    gen = _generate(ws, CURATOR)
    approval = approve_candidate(ws, gen.candidates[0].id, actor=CURATOR)
    for attempt in (
        lambda: revert_to(ws, approval.id, actor=CURATOR),
        lambda: import_catalog(ws, [{"slug": "new-one", "name": "New"}], actor=CURATOR),
        lambda: retry_publishing(ws, actor=CURATOR),
        lambda: asyncio.run(fetch_store_catalog(ws, "https://store.example.test", actor=CURATOR)),
    ):
        with pytest.raises(NotAllowed, match="Only an admin"):
            attempt()
    with ws.session() as s, pytest.raises(NotAllowed):
        update_agent_text(s, "pixel-poster", name="x", sub_heading="", description="", categories=[], actor=CURATOR)


def test_every_action_record_stores_who_did_it(ws):
    gen = _generate(ws, CURATOR)
    approval = approve_candidate(ws, gen.candidates[0].id, actor=CURATOR)
    second = approve_candidate(ws, _generate(ws, CURATOR).candidates[0].id, actor=CURATOR)
    revert = revert_to(ws, approval.id, actor=ADMIN)
    save_template(ws, "mine", "{name} in neon", actor=CURATOR)
    batch_id = create_batch(ws, select_agents(ws, slugs=["pixel-poster"]), {"provider": "local", "count": 1}, actor=CURATOR)
    exp_id = save_experiment(ws, "e", ["pixel-poster"], {"seed": [1]}, {"provider": "local", "count": 1}, actor=CURATOR)
    [cell_gen] = start_missing_cells(ws, exp_id, actor=CURATOR)
    import_catalog(ws, [{"slug": "new-one", "name": "New"}], source="upload.csv", actor=ADMIN)
    assert gen.created_by == "cora@example.test" and approval.approved_by == "cora@example.test"
    assert second.approved_by == "cora@example.test" and revert.approved_by == "ada@example.test"
    with ws.session() as s:
        assert s.scalar(select(PromptTemplate.created_by)) == "cora@example.test"
        assert s.get(Batch, batch_id).created_by == "cora@example.test"
        assert s.get(Experiment, exp_id).created_by == "cora@example.test"
        assert s.get(Generation, cell_gen).created_by == "cora@example.test"
        record = s.scalar(select(CatalogImport))
        assert (record.imported_by, record.source, record.added) == ("ada@example.test", "upload.csv", 1)


def test_the_cli_acts_as_a_local_admin_named_by_by_or_imagegen_curator(ws, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IMAGEGEN_CURATOR", "laptop-owner")
    assert main(["generate", "--agent", "pixel-poster", "--count", "1", "--out", str(tmp_path / "o"), "--by", "kim@example.test"]) == 0
    assert main(["template", "neon", "{name} in neon"]) == 0
    with ws.session() as s:
        assert s.scalar(select(Generation.created_by)) == "kim@example.test"
        assert s.scalar(select(PromptTemplate.created_by)) == "laptop-owner"
    assert local_admin(Settings()).role is Role.ADMIN


# --- the store import's fetch -----------------------------------------------------------


def test_store_fetch_only_from_allowed_hosts(ws, monkeypatch):
    store = FakeStore([{"slug": "a-1", "agent_name": "A", "agent_image": "https://media.store.test/a.png"}])
    try:
        with pytest.raises(NotAllowed, match="IMAGEGEN_STORE_HOSTS"):
            asyncio.run(fetch_store_catalog(ws, store.base_url, actor=ADMIN))
        assert store.requests == []  # refused before any request left the server
        monkeypatch.setenv("IMAGEGEN_STORE_API_URL", store.base_url)  # the configured store is allowed by default
        ws.settings = Settings()
        result = asyncio.run(fetch_store_catalog(ws, store.base_url, actor=ADMIN))
    finally:
        store.stop()
    assert [r["slug"] for r in result.rows] == ["a-1"]
    import_catalog(ws, result.rows, actor=ADMIN)
    assert ws.get_agent("a-1").store_image_url == "https://media.store.test/a.png"  # kept, never fetched


class _NotAStore(JsonHandler):
    def do_GET(self):
        self.server.count_request()
        self.send_body(404, {"detail": "Not Found"})


def test_store_fetch_error_does_not_tell_an_open_port_from_a_closed_one(ws, monkeypatch):
    open_server = LoopbackServer(_NotAStore, 10, 30).start()
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    closed = f"http://127.0.0.1:{closed_port}"
    monkeypatch.setenv("IMAGEGEN_STORE_HOSTS", f"{open_server.base_url},{closed}")
    monkeypatch.setenv("IMAGEGEN_PROVIDER_ATTEMPTS", "1")
    ws.settings = Settings()
    try:
        errors = [asyncio.run(fetch_store_catalog(ws, url, actor=ADMIN)).errors for url in (open_server.base_url, closed)]
    finally:
        open_server.stop()
    assert errors[0] == errors[1] == ["page 1: no agent store answered at that address; check the URL"]


# --- CSV injection ----------------------------------------------------------------------


@pytest.mark.parametrize("hostile", ["=HYPERLINK(\"http://x.test\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_would_run_as_formulas_are_neutralised(hostile):
    text = write_csv([{"template": hostile, "n": -3}]).decode()
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["template"] == "'" + hostile and row["n"] == "-3"  # numbers stay numbers


def test_a_hostile_template_name_is_neutralised_in_the_experiment_csv(ws):
    hostile = "=cmd|' /C calc'!A0"
    save_template(ws, hostile, "{name} in neon")
    exp_id = save_experiment(ws, "e", ["pixel-poster"], {"template": [hostile]}, {"provider": "local", "count": 1})
    for gen_id in start_missing_cells(ws, exp_id):
        asyncio.run(run_generation(ws, gen_id))
    [row] = list(csv.DictReader(io.StringIO(export_csv(result_rows(ws, exp_id)).decode())))
    assert row["axis_template"] == "'" + hostile
