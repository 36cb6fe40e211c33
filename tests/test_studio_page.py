"""The studio as a curator uses it, through Streamlit's AppTest, started from app.py."""

import time

from streamlit.testing.v1 import AppTest

from imagegen.settings import Settings
from imagegen.jobs import open_workspace
from tests.conftest import ROOT


def badges(at):
    return [m.value for m in at.markdown if "-badge[" in m.value and ":material/" in m.value]


def wait_until_landed(at, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        shown = badges(at)
        if shown and not any("Generating" in b or "Queued" in b for b in shown):
            return shown
        time.sleep(0.1)
    raise AssertionError(f"candidates never landed: {badges(at)}")


def pick(at, query):
    at.text_input(key="agent_query").input(query).run()
    return at.radio(key="agent_slug").value


def test_the_studio_opens_on_an_agent_with_no_candidates_yet(app):
    assert app.title[0].value == "Ai"
    assert "No thumbnail yet." in [i.value for i in app.info]
    assert any("press Generate" in i.value for i in app.info)
    assert app.selectbox(key="provider").value == "local"
    assert 'depicts a Ai, along' in app.text_area(key="prompt").value


def test_search_finds_by_name_slug_and_category_and_filters_missing(app):
    assert pick(app, "podcast") == "podcast-clipper"
    assert app.title[0].value == "Podcast Clipper"
    pick(app, "")
    app.selectbox(key="agent_category").select("data").run()
    assert set(app.radio(key="agent_slug").options) == {
        "SQL Sherpa",
        "The Extraordinarily Thorough Quarterly Financial Report Generator for Small Businesses",
    }
    app.text_input(key="agent_query").input("nothing-matches-this").run()
    assert "No agent matches. Clear the search or the filters." in [i.value for i in app.info]


def test_generate_compare_and_approve(app):
    pick(app, "podcast")
    app.selectbox(key="palette_name").select("EMBER").run()
    app.slider(key="count").set_value(3).run()
    app.button(key="generate").click().run()
    assert not app.exception
    shown = wait_until_landed(app)
    assert shown == [":green-badge[:material/check_circle: Ready]"] * 3
    assert len([b for b in app.button if b.label == "Approve"]) == 3

    ws = open_workspace(Settings())
    gen = ws.get_generation(1)
    assert gen.recipe.palette.name == "EMBER" and gen.recipe.count == 3 and gen.agent.slug == "podcast-clipper"

    [b for b in app.button if b.label == "Approve"][1].click().run()
    assert "It becomes the store thumbnail of **Podcast Clipper**." in [m.value for m in app.markdown]
    app.button(key="confirm_approve").click().run()
    assert not app.exception
    [success] = [s.value for s in app.success]
    agent = ws.get_agent("podcast-clipper")
    assert success.startswith(f"Approved candidate #{gen.candidates[1].id}.")
    # Published to the local folder, offered as a download; no server path on the page.
    assert any("Published" in m.value for m in app.markdown)
    assert [d.proto.label for d in app.get("download_button")] == ["Download"]
    assert ws.media.location(agent.current_thumbnail) not in str([e for e in app.main])
    assert "No thumbnail yet." not in [i.value for i in app.info]
    assert app.radio(key="agent_slug").options == ["Podcast Clipper ✓"]


def test_the_prompt_follows_agent_and_template_and_edits_are_used(app):
    pick(app, "sql")
    app.selectbox(key="template_local").select("app-store").run()
    assert app.text_area(key="prompt").value.startswith("Create a visually engaging app store thumbnail")
    app.text_area(key="prompt").input("A lighthouse made of SQL").run()
    app.slider(key="count").set_value(1).run()
    app.button(key="generate").click().run()
    wait_until_landed(app)
    assert open_workspace(Settings()).get_generation(1).recipe.prompt == "A lighthouse made of SQL"


def test_custom_palette_with_pickers_and_weights(app):
    app.selectbox(key="palette_name").select("custom").run()
    app.slider(key="palette_size").set_value(2).run()
    app.color_picker(key="palette_hex_0").pick("#112233").run()
    app.slider(key="palette_weight_1").set_value(0.3).run()
    app.toggle(key="fixed_seed").set_value(True).run()
    app.number_input(key="seed").set_value(77).run()
    app.slider(key="count").set_value(1).run()
    app.button(key="generate").click().run()
    wait_until_landed(app)
    recipe = open_workspace(Settings()).get_generation(1).recipe
    assert [(c.hex, c.weight) for c in recipe.palette.colors] == [("#112233", 1.0), ("#1C0C47", 0.3)]
    assert recipe.seed == 77


def test_a_new_session_finds_the_results_again_and_reroll_replaces_one(app):
    app.slider(key="count").set_value(2).run()
    app.button(key="generate").click().run()
    wait_until_landed(app)
    captions = [c.value for c in app.caption if c.value.startswith("#")]

    refreshed = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    refreshed.run()
    assert [c.value for c in refreshed.caption if c.value.startswith("#")] == captions

    [b for b in refreshed.button if b.label == "Reroll"][0].click().run()
    wait_until_landed(refreshed)
    after = [c.value for c in refreshed.caption if c.value.startswith("#")]
    assert after[1] == captions[1] and after[0] != captions[0] and after[0].startswith("#3 ")


def test_cancel_in_the_grid_stops_what_is_running_and_keeps_what_landed(app, monkeypatch):
    from imagegen import providers
    from tests.fakes import scripted

    monkeypatch.setattr(providers, "PROVIDERS", providers.PROVIDERS + (scripted(["ok", "slow"]),))
    app.run()
    app.selectbox(key="provider").select("scripted").run()
    app.slider(key="count").set_value(4).run()
    app.button(key="generate").click().run()
    deadline = time.monotonic() + 20
    while badges(app).count(":green-badge[:material/check_circle: Ready]") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        app.run()
    assert any("2 of 4 candidates ready" in (p.proto.text or "") for p in app.get("progress"))
    app.button(key="cancel").click().run()
    shown = wait_until_landed(app)
    assert sorted(shown) == sorted([":green-badge[:material/check_circle: Ready]"] * 2 + [":gray-badge[:material/cancel: Canceled]"] * 2)


def test_view_opens_the_full_image_with_its_details(app):
    app.slider(key="count").set_value(1).run()
    app.toggle(key="fixed_seed").set_value(True).run()
    app.number_input(key="seed").set_value(5).run()
    app.button(key="generate").click().run()
    wait_until_landed(app)
    [view] = [b for b in app.button if b.label == "View"]
    view.click().run()
    assert any(c.value.startswith("Candidate #1 · seed 5 · 1280x720") for c in app.caption)
