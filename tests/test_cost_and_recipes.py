import asyncio
import io

import pytest
from PIL import Image

from imagegen.approval import approve_candidate
from imagegen.costs import estimate, spend_by_day, spent_today
from imagegen.errors import BudgetExceeded
from imagegen.generation import run_generation, start_generation
from imagegen.images import embed_recipe, read_recipe
from imagegen.recipes import make_spec
from imagegen.settings import Settings
from imagegen.jobs import open_workspace
from tests.conftest import jpeg_bytes, png_bytes

RECIPE = {"provider": "ideogram", "prompt": "Ünïcode pop art", "seed": 3}


@pytest.mark.parametrize("fmt, data", [("PNG", png_bytes()), ("JPEG", jpeg_bytes((64, 48)))])
def test_a_recipe_rides_inside_png_and_jpeg_without_touching_pixels(fmt, data):
    stamped = embed_recipe(data, fmt, RECIPE)
    assert read_recipe(stamped) == RECIPE
    assert Image.open(io.BytesIO(stamped)).tobytes() == Image.open(io.BytesIO(data)).tobytes()
    assert read_recipe(data) is None


def test_generated_images_carry_their_recipe_but_never_a_key(monkeypatch, isolated):
    monkeypatch.setenv("IDEOGRAM_API_KEY", "ideo-secret-key-xyz")
    ws = open_workspace(Settings())
    spec = make_spec(ws, ws.get_agent("lingo-bridge"), provider="local", count=2, seed=40, palette=None)
    gen_id = start_generation(ws, "lingo-bridge", spec)
    asyncio.run(run_generation(ws, gen_id))
    second = ws.get_generation(gen_id).candidates[1]
    data = ws.media.get(second.image_key)
    recipe = read_recipe(data)
    assert recipe["agent"] == "lingo-bridge" and recipe["seed"] == 41 and recipe["count"] == 1
    assert recipe["prompt"] == spec.prompt
    assert b"ideo-secret-key-xyz" not in data


def test_approved_uploads_are_stripped_of_the_recipe_unless_asked(ws, monkeypatch):
    spec = make_spec(ws, ws.get_agent("ai"), provider="local", count=1, seed=1)
    gen_id = start_generation(ws, "ai", spec)
    asyncio.run(run_generation(ws, gen_id))
    cand = ws.get_generation(gen_id).candidates[0]
    assert read_recipe(ws.media.get(approve_candidate(ws, cand.id).upload_key)) is None
    monkeypatch.setenv("IMAGEGEN_UPLOAD_KEEP_RECIPE", "true")
    keeper = open_workspace(Settings())
    assert read_recipe(keeper.media.get(approve_candidate(keeper, cand.id).upload_key))["seed"] == 1


def test_estimates_follow_the_price_table_and_overrides(ws, monkeypatch):
    agent = ws.get_agent("ai")
    assert estimate(ws, make_spec(ws, agent, provider="local", count=8)) == 0
    assert estimate(ws, make_spec(ws, agent, provider="ideogram", count=4, options={"rendering_speed": "QUALITY"})) == pytest.approx(0.36)
    assert estimate(ws, make_spec(ws, agent, provider="replicate", model="black-forest-labs/flux-1.1-pro", count=3)) == pytest.approx(0.12)
    monkeypatch.setenv("IMAGEGEN_PRICES", '{"ideogram": {"V_3": {"QUALITY": 0.5}}}')
    cheap = open_workspace(Settings())
    assert estimate(cheap, make_spec(cheap, agent, provider="ideogram", count=2, options={"rendering_speed": "QUALITY"})) == pytest.approx(1.0)


def test_spend_is_recorded_per_generation_and_the_budget_refuses_new_paid_work(monkeypatch, isolated):
    from imagegen import providers
    from tests.fakes import scripted

    paid = scripted(["ok", "blocked"], name="ideogram")  # priced like Ideogram, answered by a fake
    monkeypatch.setattr(providers, "PROVIDERS", tuple(p for p in providers.PROVIDERS if p.name != "ideogram") + (paid,))
    monkeypatch.setenv("IMAGEGEN_DAILY_BUDGET", "0.30")
    ws = open_workspace(Settings())
    agent = ws.get_agent("ai")
    gen_id = start_generation(ws, "ai", make_spec(ws, agent, provider="ideogram", count=4, seed=0))
    asyncio.run(run_generation(ws, gen_id))
    assert ws.get_generation(gen_id).cost_usd == pytest.approx(0.24)  # 2 shown + 2 blocked, all paid
    assert spent_today(ws) == pytest.approx(0.24)
    assert spend_by_day(ws)[0][1] == pytest.approx(0.24)
    with pytest.raises(BudgetExceeded, match=r"about \$0.12, and \$0.24 of today's \$0.30 budget is spent"):
        start_generation(ws, "ai", make_spec(ws, agent, provider="ideogram", count=2, seed=0))
    start_generation(ws, "ai", make_spec(ws, agent, provider="local", count=8, seed=0))  # free work still runs


def test_a_built_in_template_is_the_same_text_wherever_it_is_read(ws):
    """The studio lists templates with `list_templates` and prompts are made with `template_text`,
    which no longer reads the saved ones for a built-in's name: a saved row of that name (which
    save_template refuses, but a database edited by hand could hold) must not make the two differ."""
    from imagegen.prompts import BUILT_IN
    from imagegen.recipes import list_templates, template_text
    from imagegen.records import PromptTemplate

    with ws.session() as s, s.begin():
        s.add(PromptTemplate(name="pop-art", text="{name} in crayon", created_by="t"))
    assert list_templates(ws)["pop-art"] == template_text(ws, "pop-art") == BUILT_IN["pop-art"]
