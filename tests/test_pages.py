"""History, Experiments, Batch, Catalog and Showcase through AppTest, from app.py."""

import asyncio
import csv
import io
import json
import time

import streamlit as st
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from imagegen.approval import approve_candidate
from imagegen.auth import local_admin
from imagegen.catalog import fetch_store_agents, parse_catalog, preview_import
from imagegen.generation import run_generation, start_generation
from imagegen.history import approvals
from imagegen.recipes import make_spec
from imagegen.records import Candidate, CandidateStatus
from imagegen.settings import Settings
from imagegen.jobs import open_workspace
from tests.conftest import ROOT
from tests.fake_store import FakeStore
from ui.text import literal


def open_page(at, page):
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def run_until(at, condition, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if condition(at):
            return
        time.sleep(0.1)
    raise AssertionError("the page never showed what was expected")


def generated(ws, slug, seed, count=2, **choices):
    spec = make_spec(ws, ws.get_agent(slug), provider="local", count=count, seed=seed, **choices)
    gen_id = start_generation(ws, slug, spec)
    asyncio.run(run_generation(ws, gen_id))
    return ws.get_generation(gen_id)


def test_history_lists_recipes_reverts_and_reuses_a_recipe(app):
    ws = open_workspace(Settings())
    first = generated(ws, "trend-radar", 11, palette=None)
    second = generated(ws, "trend-radar", 22, template="app-store")
    old = approve_candidate(ws, first.candidates[0].id, actor=local_admin(ws.settings, "ana"))
    approve_candidate(ws, second.candidates[1].id, actor=local_admin(ws.settings, "ben"))
    open_page(app, "history")
    app.selectbox(key="history_agent").select("trend-radar").run()
    labels = [e.label for e in app.expander]
    assert len([label for label in labels if label.startswith("#")]) == 2 and "seed 22" in labels[0] and "app-store" in labels[0]
    assert any("by ana" in m.value for m in app.markdown) and any(":green-badge[current]" in m.value for m in app.markdown)
    assert any(f"candidate #{first.candidates[0].id} · 1280x720 PNG, " in m.value for m in app.markdown)  # the upload's, as recorded

    app.selectbox(key="history_provider").select("ideogram").run()
    assert not [e for e in app.expander if e.label.startswith("#")]
    app.selectbox(key="history_provider").select("any").run()

    app.button(key=f"revert_{old.id}").click().run()
    assert ws.get_agent("trend-radar").current_thumbnail == old.upload_key
    assert approvals(ws, "trend-radar")[0].note == f"revert to approval #{old.id}"
    badges = [m.value for m in app.markdown if m.value.startswith("**#")]
    assert [b.split(" by")[0] for b in badges if ":green-badge[current]" in b] == [f"**#{approvals(ws, 'trend-radar')[0].id}**"]  # the revert, not #1 too

    app.multiselect(key="history_compare").select(first.candidates[0].id).select(second.candidates[0].id).run()
    assert any("seed 11 · local · pop-art" in c.value for c in app.caption)

    from imagegen.records import Verdict
    from imagegen.review import set_verdict

    set_verdict(ws, first.candidates[1].id, Verdict.STARRED, "keep the rays")
    set_verdict(ws, second.candidates[0].id, Verdict.REJECTED)
    app.selectbox(key="history_review").select("starred").run()
    assert [e.label.split(" ·")[0] for e in app.expander if e.label.startswith("#")] == [f"#{first.id}"]
    assert any(c.value.endswith("· note: keep the rays") for c in app.caption)
    assert [c.value.split(" ·")[0] for c in app.caption if c.value.startswith("#")] == [f"#{first.candidates[1].id}"]
    app.selectbox(key="history_review").select("rejected").run()
    assert [e.label.split(" ·")[0] for e in app.expander if e.label.startswith("#")] == [f"#{second.id}"]
    app.selectbox(key="history_review").select("any").run()

    app.button(key=f"use_{second.id}").click().run()
    assert app.title[0].value == "Trend Radar"
    assert app.text_area(key="prompt").value == second.recipe.prompt
    assert app.selectbox(key="template_local").value == "app-store"
    assert (app.toggle(key="fixed_seed").value, app.number_input(key="seed").value) == (True, 22)


def test_an_experiment_grid_opens_on_the_axes_that_vary(app):
    """Found in a walk-through: 2 agents x 2 palettes opened as agents x template (one value), each
    cell stacking both palettes' images with nothing saying which was which."""
    open_page(app, "experiments")
    app.multiselect(key="exp_agents_None").set_value(["ai", "bug-hunter"]).run()
    app.multiselect(key="exp_palettes_None").set_value(["brand", "EMBER"]).run()
    app.text_input(key="exp_seeds_None").input("7").run()
    app.button(key="exp_run").click().run()
    assert (app.selectbox(key="exp_rows").value, app.selectbox(key="exp_cols").value) == ("agent", "palette")
    run_until(app, lambda at: any("4 of 4 cells finished" in (p.proto.text or "") for p in at.get("progress")))
    assert {"**brand**", "**EMBER**", "**Ai**", "**Bug Hunter**"} <= {m.value for m in app.markdown}


def test_an_experiment_is_estimated_run_compared_exported_and_extended(app):
    open_page(app, "experiments")
    app.multiselect(key="exp_agents_None").set_value(["bug-hunter", "sql-sherpa"]).run()
    app.multiselect(key="exp_templates_None").set_value(["pop-art", "app-store"]).run()
    app.text_input(key="exp_name_None").input("templates vs seeds").run()
    assert any("**8 images**" in c.value and "free" in c.value for c in app.caption)
    app.button(key="exp_run").click().run()
    assert app.selectbox(key="experiment_pick").value == 1
    run_until(app, lambda at: any("8 of 8 cells finished" in (p.proto.text or "") for p in at.get("progress")))
    app.selectbox(key="exp_rows").select("agent").run()
    app.selectbox(key="exp_cols").select("template").run()
    assert {"**pop-art**", "**app-store**", "**Bug Hunter**", "**SQL Sherpa**"} <= {m.value for m in app.markdown}

    ws = open_workspace(Settings())
    from imagegen.experiments import contact_sheet, result_rows, sheet_headings

    rows = result_rows(ws, 1)
    assert len(rows) == 8 and {r["axis_template"] for r in rows} == {"pop-art", "app-store"}
    assert all(json.loads(r["recipe"])["provider"] == "local" for r in rows)
    from PIL import Image

    sheet = Image.open(io.BytesIO(contact_sheet(ws, 1, "agent", "template")))
    assert sheet.width >= 2 * 480 + 300 and sheet.height >= 2 * 270  # two columns of print-size tiles
    assert sheet_headings(ws, 1, "agent", "template") == (
        "templates vs seeds", "Recipe: provider local, palette brand, aspect ratio 16x9 · 1 image a cell, the first shown",
        "Rows: agent   ·   Columns: template")
    (ROOT / "artifacts").mkdir(exist_ok=True)
    sheet.save(ROOT / "artifacts" / "contact-sheet.png")  # looked at by a person, not by the test

    first = result_rows(ws, 1)[0]
    [open_link] = [b for b in app.get("link_button") if b.proto.url.startswith("/?agent=bug-hunter&generation=")][:1]
    app.button(key=f"cell_approve_{first['candidate']}").click().run()
    assert f"Approved candidate #{first['candidate']}." in [s.value for s in app.success]
    app.button(key="exp_sheet").click().run()
    assert [d for d in app.get("download_button") if "contact sheet" in d.proto.label]

    app.multiselect(key="exp_palettes_1").set_value(["brand", "EMBER"]).run()
    assert any("**16 images**" in c.value for c in app.caption)
    app.button(key="exp_run").click().run()
    run_until(app, lambda at: any("16 of 16 cells finished" in (p.proto.text or "") for p in at.get("progress")))


def test_a_batch_runs_from_the_page_and_results_wait_for_review(app):
    open_page(app, "batch")
    app.segmented_control(key="batch_how").set_value("A list of slugs").run()
    app.text_input(key="batch_slugs").input("ai, lingo-bridge").run()
    assert any("2 agents, 4 images" in c.value for c in app.caption)
    app.button(key="batch_start").click().run()
    run_until(app, lambda at: any("2 of 2 agents · done" in (p.proto.text or "") for p in at.get("progress")))
    ws = open_workspace(Settings())
    assert ws.get_agent("ai").current_thumbnail is None  # nothing approved unless asked
    approve = [b for b in app.button if b.label == "Approve" and b.key.startswith("batch_approve_")]
    assert len(approve) == 4
    approve[0].click().run()
    assert ws.get_agent("ai").current_thumbnail is not None
    # The card says so at once, and the filters tell reviewed from unreviewed agents.
    assert len([m for m in app.markdown if "Approved" in m.value and "verified" in m.value]) == 1
    app.segmented_control(key="batch_show").set_value("Unreviewed").run()
    assert [m.value.split(" · ")[0] for m in app.markdown if m.value.startswith("**")] == ["**Lingo Bridge**"]
    app.segmented_control(key="batch_show").set_value("Reviewed").run()
    assert [m.value.split(" · ")[0] for m in app.markdown if m.value.startswith("**")] == ["**Ai**"]
    # A second approval of the same agent replaces its thumbnail: the cards say which one it is now.
    app.button(key=approve[1].key).click().run()
    badges = [m.value for m in app.markdown if "Approved" in m.value]
    assert len(badges) == 2 and "current thumbnail" in badges[1] and "Approved before" in badges[0], badges


def _picked_batch_label(at) -> str:
    [picker] = [s for s in at.selectbox if s.label == "Batch"]
    return picker.options[picker.index]


def test_batch_bulk_approve_with_one_confirmation_and_a_large_view(app):
    open_page(app, "batch")
    app.segmented_control(key="batch_how").set_value("A list of slugs").run()
    app.text_input(key="batch_slugs").input("ai, lingo-bridge, sql-sherpa").run()
    app.button(key="batch_start").click().run()
    # The picker says done, not running, once the batch is done (at the latest on the rerun after).
    run_until(app, lambda at: any("3 of 3 agents · done" in (p.proto.text or "") for p in at.get("progress"))
              and _picked_batch_label(at).endswith(" · done"))
    ws = open_workspace(Settings())
    from imagegen.batch import batch_generations

    firsts = {item.agent.slug: gen.candidates[0].id for item, gen in batch_generations(ws, 1)}
    app.button(key=f"batch_view_{firsts['ai']}").click().run()
    assert any(c.value.startswith(f"Ai · candidate #{firsts['ai']} · seed") for c in app.caption)
    app.checkbox(key=f"batch_select_{firsts['ai']}").check().run()
    app.checkbox(key=f"batch_select_{firsts['sql-sherpa']}").check().run()
    app.button(key="batch_bulk").click().run()
    assert any("2 candidates become their agents' thumbnails: Ai, SQL Sherpa." in m.value for m in app.markdown)
    assert ws.get_agent("ai").current_thumbnail is None  # nothing before the confirmation
    app.button(key="batch_bulk_confirm").click().run()
    assert "Approved 2 candidates." in [s.value for s in app.success], (app.exception, [e.value for e in app.error], ws.get_agent("ai").current_thumbnail)
    assert ws.get_agent("ai").current_thumbnail and ws.get_agent("sql-sherpa").current_thumbnail
    assert ws.get_agent("lingo-bridge").current_thumbnail is None
    assert app.button(key="batch_bulk").label == "Approve the selected (0)"  # what was approved is no longer selected
    # The keyboard bar: → moves the focus (wrapping round), X rejects the focused candidate.
    def focus():
        caption = next(c.value for c in app.caption if c.value.startswith("Focus: "))
        return int(caption.split("(")[1].split(" of")[0]), int(caption.split("#")[1].split(" ")[0])

    start, _ = focus()
    app.button(key="kb_next").click().run()
    position, focused = focus()
    assert position == start % 6 + 1
    app.button(key="kb_reject").click().run()
    assert ws.get_candidate(focused).verdict.value == "rejected"
    app.button(key="kb_prev").click().run()
    assert focus()[0] == start
    app.button(key=f"batch_star_{firsts['lingo-bridge']}").click().run()
    app.segmented_control(key="batch_show").set_value("Starred").run()
    assert [m.value.split(" · ")[0] for m in app.markdown if m.value.startswith("**")] == ["**Lingo Bridge**"]


def test_catalog_imports_from_the_store_with_a_failing_page_and_edits_an_agent(app, shared_dir, monkeypatch):
    rows = list(csv.DictReader((shared_dir / "data" / "autogpt-store-agents.csv").open(encoding="utf-8")))
    store = FakeStore(rows, failing_pages={2})
    try:
        open_page(app, "catalog")
        app.text_input(key="store_url").input(store.base_url).run()
        app.number_input(key="store_page_size").set_value(5).run()
        app.button(key="store_fetch").click().run()
        assert any("IMAGEGEN_STORE_HOSTS" in e.value for e in app.error) and store.requests == []
        monkeypatch.setenv("IMAGEGEN_STORE_HOSTS", store.base_url)
        st.cache_resource.clear()  # settings are read when the workspace opens
        app.text_input(key="store_url").input(store.base_url + "/").run()
        app.number_input(key="store_page_size").set_value(5).run()
        app.button(key="store_fetch").click().run()
        assert any("Skipped page 2: the store answered HTTP 500" in w.value for w in app.warning)
        assert any(f"**{len(rows) - 5} rows:** {len(rows) - 5} new" in m.value for m in app.markdown)
        [button] = [b for b in app.button if b.key == "import_store"]
        button.click().run()
        assert any(f"{len(rows) - 5} added" in s.value for s in app.success)
    finally:
        store.stop()
    ws = open_workspace(Settings())
    assert ws.get_agent(rows[0]["slug"]).name == rows[0]["agent_name"]

    app.selectbox(key="edit_agent").select("ai").run()
    [t for t in app.text_input if t.label == "Name"][0].input("Ai Helper")
    [t for t in app.text_input if t.label == "Sub-heading"][0].input("Answers anything, briefly")
    [b for b in app.button if b.label == "Save"][0].click().run()
    assert "Saved Ai Helper." in [s.value for s in app.success]
    agent = open_workspace(Settings()).get_agent("ai")
    assert (agent.name, agent.sub_heading) == ("Ai Helper", "Answers anything, briefly")


def test_store_fetch_reports_pages_and_dedup_preview(isolated):
    agents = [{"slug": f"a-{i}", "agent_name": f"Agent {i}", "sub_heading": "s", "description": "d", "categories": ["x"]} for i in range(7)]
    agents.append({"slug": "a-0", "agent_name": "Agent zero again"})
    agents.append({"slug": "BAD SLUG", "agent_name": "x"})
    store = FakeStore(agents, failing_pages={2})
    try:
        result = asyncio.run(fetch_store_agents(store.base_url, page_size=3, attempts=2, retry_max_wait=0.01))
    finally:
        store.stop()
    assert result.errors == ["page 2: the store answered HTTP 500"]
    assert [r["slug"] for r in result.rows] == ["a-0", "a-1", "a-2", "a-6", "a-0", "BAD SLUG"]
    ws = open_workspace(Settings())
    with ws.session() as s:
        preview = preview_import(s, result.rows)
    assert [p["action"] for p in preview] == ["add", "add", "add", "add", "duplicate (last one wins)", "skip"]
    assert "slug" in preview[-1]["error"]
    assert parse_catalog(json.dumps({"agents": agents[:2]}).encode(), "x.json")[1]["slug"] == "a-1"


def test_showcase_shows_approved_thumbnails_by_category_and_has_a_kiosk_mode(app):
    open_page(app, "showcase")
    assert any("No approved thumbnails yet" in i.value for i in app.info)
    ws = open_workspace(Settings())
    approve_candidate(ws, generated(ws, "podcast-clipper", 5, count=1).candidates[0].id)
    approve_candidate(ws, generated(ws, "bug-hunter", 6, count=1).candidates[0].id)
    approve_candidate(ws, generated(ws, "ai", 7, count=1).candidates[0].id)
    open_page(app, "showcase")
    names = [m.value for m in app.markdown if m.value.startswith("**")]
    assert sorted(names) == ["**Ai**", "**Bug Hunter**", "**Podcast Clipper**"]  # each agent once, in one grid
    assert ":violet-badge[creative] :violet-badge[social]" in [m.value for m in app.markdown]
    assert ":violet-badge[ai]" in [m.value for m in app.markdown] and not app.subheader  # a tag, never a heading "Ai"
    assert [b.label for b in app.button] == ["View"] * 3 and not app.text_input and not app.text_area  # no editing controls
    app.button(key="showcase_view_podcast-clipper").click().run()
    assert len([h for h in app.get("html") if "data:image/jpeg" in h.proto.body]) == 3 and len(app.get("image")) == 1  # the large view
    app.pills(key="showcase_categories").set_value(["ai"]).run()
    assert [m.value for m in app.markdown if m.value.startswith("**")] == ["**Bug Hunter**"]

    import streamlit as st

    st.cache_resource.clear()
    kiosk = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    kiosk.query_params["kiosk"] = "1"
    kiosk.run()
    assert kiosk.title[0].value == "Showcase" and not kiosk.sidebar.radio


def test_a_recalled_recipe_fills_the_studio(app):
    from imagegen.images import read_recipe
    from ui.recipe_state import load_recipe

    ws = open_workspace(Settings())
    gen = generated(ws, "cafe-creme-copywriter", 300, count=1, aspect_ratio="1x1", palette=__import__("imagegen.palettes", fromlist=["x"]).parse_palette("#112233:0.9,#FFEEDD"))
    recipe = read_recipe(ws.media.get(gen.candidates[0].image_key))
    state = {}
    load_recipe(state, recipe, recipe["agent"])
    for key, value in state.items():
        app.session_state[key] = value
    app.run()
    assert app.title[0].value == "Café Crème Copywriter"
    assert app.selectbox(key="aspect").value == "1x1" and app.selectbox(key="palette_name").value == "custom"
    assert app.color_picker(key="palette_hex_0").value.upper() == "#112233" and app.number_input(key="seed").value == 300


def test_reruns_of_history_and_showcase_open_no_image_once_thumbnails_exist(app, monkeypatch):
    from PIL import Image

    ws = open_workspace(Settings())
    gens = [generated(ws, "trend-radar", seed, count=4) for seed in (1, 2, 3)]
    approve_candidate(ws, gens[0].candidates[0].id)
    approve_candidate(ws, generated(ws, "sql-sherpa", 4, count=1).candidates[0].id)
    opened = []
    real_open = Image.open
    for page, setup in (("history", lambda at: at.selectbox(key="history_agent").select("trend-radar").run()), ("showcase", lambda at: at)):
        open_page(app, page)
        setup(app)
        app.run()  # the first view makes the thumbnails
        monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(page) or real_open(*a, **k))
        app.run()
        assert not app.exception and (app.get("image") or [h for h in app.get("html") if "data:image/jpeg" in h.proto.body])
        monkeypatch.setattr(Image, "open", real_open)
    assert opened == []


def test_catalog_preview_shows_what_each_row_is_and_messages_read_right(app, monkeypatch):
    rows = [
        {"slug": "new-one", "agent_name": "New One", "sub_heading": "Does things", "categories": '["data", "ai"]',
         "agent_image": '["https://store.example/img/new-one.png", "https://store.example/img/2.png"]'},
        {"slug": "broken row"},
    ]
    ws = open_workspace(Settings())
    with ws.session() as s:
        first, broken = preview_import(s, rows)
    assert (first["name"], first["sub_heading"], first["categories"], first["image"]) == (
        "New One", "Does things", "data, ai", "https://store.example/img/new-one.png")
    assert broken["name"] == "(no name)" and broken["action"] == "skip"

    store = FakeStore([rows[0]])
    # Allowed store hosts: one where nothing listens, and the fake store.
    monkeypatch.setenv("IMAGEGEN_STORE_HOSTS", f"http://127.0.0.1:9,{store.base_url}")
    st.cache_resource.clear()  # the workspace, and so its settings, is opened again
    open_page(app, "catalog")
    app.text_input(key="store_url").input("http://127.0.0.1:9").run()
    app.number_input(key="store_page_size").set_value(5).run()
    app.button(key="store_fetch").click().run()
    [error] = [e.value for e in app.error]
    assert error.startswith("Could not read agents from http://127.0.0.1:9: no agent store answered at that address")
    assert not any("Skipped page 1" in w.value for w in app.warning)

    try:
        app.text_input(key="store_url").input(store.base_url).run()
        app.button(key="store_fetch").click().run()
        assert [b.label for b in app.button if b.key == "import_store"] == ["Import 1 agent"]
    finally:
        store.stop()


def test_catalog_text_is_shown_as_written_never_as_markdown(app):
    from imagegen.catalog import update_agent_text

    ws = open_workspace(Settings())
    with ws.session() as s, s.begin():
        update_agent_text(s, "ai", name="[Win](http://evil.example) :red[Ai]", sub_heading="**bold** (www.evil.example)",
                          description="", categories=["a:b[c]", "**z**"], actor=local_admin(ws.settings))
    approve_candidate(ws, generated(ws, "ai", 1, count=1).candidates[0].id)
    app.run()
    name = "\\[Win\\]\\(http\u2060\\:\\/\\/evil\\.example\\) \\:red\\[Ai\\]"  # the text itself, its link broken
    assert app.title[0].value == name
    assert "\\*\\*bold\\*\\* \\(www\u2060\\.evil\\.example\\)" in [c.value for c in app.caption]
    assert r":violet-badge[a\:b\[c\]] :violet-badge[\*\*z\*\*]" in [m.value for m in app.markdown]
    open_page(app, "showcase")
    assert f"**{name}**" in [m.value for m in app.markdown]
    assert app.pills(key="showcase_categories").format_func("**z**") == r"\*\*z\*\*"  # a pill's label is Markdown too

    open_page(app, "catalog")
    app.selectbox(key="edit_agent").select("ai").run()
    next(t for t in app.text_input if t.label == "Name").input("**Bold** [x](http://a)")
    app.button[[b.label for b in app.button].index("Save")].click().run()
    assert [s.value for s in app.success] == [f"Saved {literal('**Bold** [x](http://a)')}."]


def test_untrusted_text_keeps_no_autolink():
    """Measured in Chromium: `http://…`, `www.…` and `a@b.c` in a sub-heading became live links,
    escapes or not (GFM finds autolinks in the parsed text). A word joiner breaks each pattern."""
    import re

    text = "Go to http://a.example, HTTPS://b.example or www.c.example; write to d@e.example"
    shown = literal(text)
    assert shown.replace("\\", "").replace("\u2060", "") == text  # reads the same
    parsed = shown.replace("\\", "")  # what GFM's autolink search sees once escapes are undone
    assert not re.search(r"(?i)https?://|www\.|[-.+\w]@[-\w]", parsed)


def test_showcase_pages_through_approved_agents_and_filters_categories_in_sql(app):
    from tests.test_listings import approve_and_show_everywhere, grow_catalog

    ws = open_workspace(Settings())
    grow_catalog(ws, 90)
    approve_and_show_everywhere(ws, 1)  # 90 bulk agents and Trend Radar share one approved image

    def tiles():
        return [m.value.strip("*") for m in app.markdown if m.value.startswith("**")]

    open_page(app, "showcase")
    assert tiles() == [f"Agent {i:06d}" for i in range(1, 41)]
    assert any(c.value == "1-40 of 91 agents with an approved thumbnail" for c in app.caption)
    assert app.button(key="showcase_previous").disabled
    app.button(key="showcase_next").click().run()
    assert tiles() == [f"Agent {i:06d}" for i in range(41, 81)]
    app.button(key="showcase_next").click().run()
    assert tiles() == [f"Agent {i:06d}" for i in range(81, 91)] + ["Trend Radar"] and app.button(key="showcase_next").disabled
    app.pills(key="showcase_categories").set_value(["group-3", "group-5"]).run()  # back to the first page
    assert tiles() == [f"Agent {i:06d}" for i in range(1, 91) if i % 7 in (3, 5)]
    assert any(c.value == "26 agents with an approved thumbnail in these categories" for c in app.caption)
    assert not [b for b in app.button if b.key in ("showcase_previous", "showcase_next")]  # one page: no pager


def test_history_finds_its_agent_by_search_and_pages_generations(app):
    from imagegen.records import Verdict
    from imagegen.review import set_verdict
    from tests.test_listings import grow_catalog

    ws = open_workspace(Settings())
    grow_catalog(ws, 300)
    gens = [generated(ws, "trend-radar", seed, count=1) for seed in range(25)]
    open_page(app, "history")
    options = app.selectbox(key="history_agent").options
    assert options[0] == "Ai" and len(options) == 51  # the studio's agent, then one page of 312 agents, not all
    assert any(c.value.startswith("The first 50 of 312 matches") for c in app.caption)
    app.text_input(key="history_agent_query").input("TREND").run()
    assert app.selectbox(key="history_agent").value == "trend-radar"

    def shown():
        return [int(e.label.split(" ·")[0][1:]) for e in app.expander if e.label.startswith("#")]

    assert app.subheader[-1].value == "25 generations" and shown() == [g.id for g in reversed(gens[5:])]
    app.button(key="history_next").click().run()
    assert shown() == [g.id for g in reversed(gens[:5])] and app.button(key="history_next").disabled
    set_verdict(ws, gens[3].candidates[0].id, Verdict.STARRED)
    app.selectbox(key="history_review").select("starred").run()  # filtered in SQL, from the first page
    assert shown() == [gens[3].id] and app.subheader[-1].value == "1 generation"


def test_experiments_pick_agents_by_search_and_keep_the_picked_ones(app):
    from tests.test_listings import grow_catalog

    ws = open_workspace(Settings())
    grow_catalog(ws, 300)
    open_page(app, "experiments")
    picker = app.multiselect(key="exp_agents_None")
    assert len(picker.options) == 50 and picker.value == ["agent-000001", "agent-000002"]
    app.text_input(key="exp_agents_None_query").input("sherpa").run()
    picker = app.multiselect(key="exp_agents_None")
    assert len(picker.options) == 3 and picker.value == ["agent-000001", "agent-000002"]  # the picked stay listed
    picker.select("sql-sherpa").run()
    assert app.multiselect(key="exp_agents_None").value == ["agent-000001", "agent-000002", "sql-sherpa"]
    assert any("**6 images**" in c.value for c in app.caption)  # 3 agents x 2 seeds


def _batch_cards(at) -> list[str]:
    """The agents whose review cards are on screen, in order."""
    return [m.value.split(" · ")[0].strip("*") for m in at.markdown if m.value.startswith("**Agent ")]


def test_a_batch_card_without_an_image_says_why(app):
    """Measured: an agent a Pause held back showed "pending" and an "Interrupted" badge, and a
    failed candidate only "Failed": the reason was on the candidate but never on the page."""
    from imagegen.generation import HELD_BACK
    from tests.test_listings import reviewed_batch

    ws = open_workspace(Settings())
    image = generated(ws, "trend-radar", 1, count=1).candidates[0].image_key
    _, [(_, first)] = reviewed_batch(ws, 1, image_key=image)
    with ws.session() as s, s.begin():
        s.execute(update(Candidate).where(Candidate.id == first + 1)
                  .values(status=CandidateStatus.INTERRUPTED, image_key=None, error=HELD_BACK))
    open_page(app, "batch")
    assert literal(HELD_BACK) in [c.value for c in app.caption]  # as written: vendor text is never read as Markdown


def test_the_keyboard_focus_is_on_the_first_card_until_the_curator_moves_it(app):
    """Measured in Chromium: the focus stuck to whichever candidate landed first while the batch ran,
    so review began on the second card when the first agent's second image landed before its first."""
    from tests.test_listings import reviewed_batch

    ws = open_workspace(Settings())
    image = generated(ws, "trend-radar", 1, count=1).candidates[0].image_key
    _, [(_, first)] = reviewed_batch(ws, 1, image_key=image)

    def focus():
        return next(c.value for c in app.caption if c.value.startswith("Focus: ")).split(" · ")[0]

    with ws.session() as s, s.begin():  # the second image has landed, the first not yet
        s.execute(update(Candidate).where(Candidate.id == first).values(status=CandidateStatus.RUNNING, image_key=None))
    open_page(app, "batch")
    assert focus() == f"Focus: Agent 000001, #{first + 1} (1 of 1)"
    with ws.session() as s, s.begin():
        s.execute(update(Candidate).where(Candidate.id == first).values(status=CandidateStatus.SUCCEEDED, image_key=image))
    app.run()
    assert focus() == f"Focus: Agent 000001, #{first} (1 of 2)"
    app.button(key="kb_next").click().run()
    assert focus() == f"Focus: Agent 000001, #{first + 1} (2 of 2)"
    app.run()  # once moved, it stays where the curator put it
    assert focus() == f"Focus: Agent 000001, #{first + 1} (2 of 2)"


def test_batch_review_pages_twenty_agents_at_a_time_and_approves_from_a_later_page(app):
    from tests.test_listings import reviewed_batch

    ws = open_workspace(Settings())
    image = generated(ws, "trend-radar", 1, count=1).candidates[0].image_key
    _, agents = reviewed_batch(ws, 45, image_key=image)
    names = [f"Agent {i:06d}" for i in range(1, 46)]
    open_page(app, "batch")
    assert any("45 of 45 agents · done" in (p.proto.text or "") for p in app.get("progress"))
    assert _batch_cards(app) == names[:20] and app.button(key="batch_cards_previous").disabled
    assert "Agents 1-20 of 45" in [c.value for c in app.caption]
    app.button(key="batch_cards_next").click().run()
    assert _batch_cards(app) == names[20:40]
    app.button(key="batch_cards_next").click().run()
    assert _batch_cards(app) == names[40:] and app.button(key="batch_cards_next").disabled
    # Approve on a card of the last page: the agent gets its thumbnail and the card says so, on the same page.
    _, first = agents[42]
    app.button(key=f"batch_approve_{first}").click().run()
    assert ws.get_agent("agent-000043").current_thumbnail is not None
    assert _batch_cards(app) == names[40:]
    assert len([m for m in app.markdown if "Approved" in m.value and "verified" in m.value]) == 1
    # A change of the Show filter opens its first page (from page 2 here), filtered before paging.
    app.button(key="batch_cards_previous").click().run()
    assert _batch_cards(app) == names[20:40]
    app.segmented_control(key="batch_show").set_value("Unreviewed").run()
    assert _batch_cards(app) == names[:20] and "Agents 1-20 of 44 (unreviewed)" in [c.value for c in app.caption]
    app.button(key="batch_cards_next").click().run()
    app.button(key="batch_cards_next").click().run()
    assert _batch_cards(app) == [n for n in names[40:] if n != "Agent 000043"]
    app.segmented_control(key="batch_show").set_value("Reviewed").run()
    assert _batch_cards(app) == ["Agent 000043"]


def test_the_batch_picker_lists_twenty_batches_and_pages_to_older_ones(app):
    from imagegen.batch import create_batch

    ws = open_workspace(Settings())
    agent = ws.get_agent("ai")
    ids = [create_batch(ws, [agent], {"provider": "local", "count": 1}, name=f"run {n}") for n in range(1, 22)]
    open_page(app, "batch")

    def listed():
        [picker] = [s for s in app.selectbox if s.label == "Batch"]
        return [int(label.split(" ")[0][1:]) for label in picker.options]

    assert listed() == ids[:0:-1]  # the newest 20
    assert "Batches 1-20 of 21, newest first" in [c.value for c in app.caption]
    app.button(key="batch_list_next").click().run()
    assert listed() == [ids[0]] and "Batches 21-21 of 21, newest first" in [c.value for c in app.caption]
    assert _picked_batch_label(app) == f"#{ids[0]} run 1 · running"
    app.button(key="batch_list_previous").click().run()
    assert listed() == ids[:0:-1]


def test_an_app_that_cannot_open_its_data_folder_says_why_in_one_line(isolated, monkeypatch):
    (isolated / "taken").write_text("a file where the data folder would go")
    monkeypatch.setenv("IMAGEGEN_DATA_DIR", str(isolated / "taken" / "data"))
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    try:
        assert not at.exception
        [error] = [e.value for e in at.error]
        assert error.startswith("Thumbnail Studio could not start: Could not create the data folder") and "IMAGEGEN_DATA_DIR" in error
        assert "\n" not in error and "Traceback" not in error
    finally:
        st.cache_resource.clear()


def test_an_app_whose_database_is_out_of_reach_says_why_in_one_line_without_its_password(isolated, monkeypatch):
    monkeypatch.setenv("IMAGEGEN_DATABASE_URL", "postgresql+psycopg://curator:pg-very-secret@127.0.0.1:1/studio")  # nothing listens
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    try:
        assert not at.exception
        [error] = [e.value for e in at.error]
        assert error.startswith("Thumbnail Studio could not start: Could not open the database at postgresql+psycopg://curator:***@127.0.0.1:1/studio")
        assert "IMAGEGEN_DATABASE_URL" in error and "pg-very-secret" not in error and "\n" not in error
    finally:
        st.cache_resource.clear()
