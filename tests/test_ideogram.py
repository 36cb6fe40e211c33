"""Ideogram against a fake server on 127.0.0.1 that checks every request against the vendor's spec."""

import json
import time
from pathlib import Path

import pytest

from imagegen.generation import run_to_completion, start_generation
from imagegen.palettes import PRESETS
from imagegen.providers import provider_choices
from imagegen.recipes import make_spec
from imagegen.records import ASPECT_RATIOS
from imagegen.settings import Settings
from imagegen.jobs import open_workspace
from tests.fake_ideogram import KEY, FakeIdeogram
from tests.fakes import run_together, wait_until


@pytest.fixture
def fake(monkeypatch, isolated):
    server = FakeIdeogram().start()
    monkeypatch.setenv("IDEOGRAM_API_KEY", KEY)
    monkeypatch.setenv("IDEOGRAM_BASE_URL", server.base_url)
    monkeypatch.setenv("IMAGEGEN_DOWNLOAD_HOSTS", server.base_url)
    monkeypatch.setenv("IMAGEGEN_RETRY_MAX_WAIT", "0.05")
    yield server
    server.stop()
    assert server.problems == []


@pytest.fixture
def ws(fake):
    workspace = open_workspace(Settings())
    yield workspace
    workspace.close()


def generate(ws, slug="trend-radar", **choices):
    choices.setdefault("count", 4)
    choices.setdefault("seed", 1000)
    spec = make_spec(ws, ws.get_agent(slug), provider="ideogram", **choices)
    gen_id = start_generation(ws, slug, spec)
    run_to_completion(ws, gen_id)
    return ws.get_generation(gen_id)


def statuses(gen):
    return [c.status.value for c in gen.candidates]


def test_four_candidates_come_from_one_v3_request_with_the_palette(ws, fake):
    gen = generate(ws, magic_prompt="OFF", style="AUTO")
    assert statuses(gen) == ["succeeded"] * 4
    [request] = fake.requests
    assert request["path"] == "/v1/ideogram-v3/generate"
    assert request["num_images"] == 4 and request["seed"] == 1000 and request["aspect_ratio"] == "16x9"
    assert request["magic_prompt"] == "OFF" and request["style_type"] == "AUTO"
    assert request["color_palette"] == {"members": [
        {"color_hex": "#000030", "color_weight": 1.0}, {"color_hex": "#1C0C47", "color_weight": 0.85},
        {"color_hex": "#9900FF", "color_weight": 0.7}, {"color_hex": "#4285F4", "color_weight": 0.55},
        {"color_hex": "#FFFFFF", "color_weight": 0.4},
    ]}
    assert '"Trend Radar" in bold typography' in request["prompt"]
    assert [c.seed for c in gen.candidates] == [1000, 1001, 1002, 1003]
    assert len(fake.downloads) == 4


def test_a_preset_palette_is_sent_by_name_and_magic_prompt_is_kept(ws, fake):
    gen = generate(ws, count=1, palette=PRESETS["EMBER"], magic_prompt="ON")
    assert fake.requests[0]["color_palette"] == {"name": "EMBER"}
    assert gen.candidates[0].provider_prompt.startswith("MAGIC: ")


@pytest.mark.parametrize("aspect", ASPECT_RATIOS)
def test_every_v3_aspect_ratio(ws, fake, aspect):
    gen = generate(ws, count=1, aspect_ratio=aspect)
    assert statuses(gen) == ["succeeded"] and fake.requests[0]["aspect_ratio"] == aspect


@pytest.mark.parametrize("style", ["AUTO", "GENERAL", "REALISTIC", "DESIGN", "FICTION"])
@pytest.mark.parametrize("speed", ["FLASH", "TURBO", "BALANCED", "DEFAULT", "QUALITY"])
def test_every_v3_style_and_rendering_speed(ws, fake, style, speed):
    gen = generate(ws, count=1, style=style, options={"rendering_speed": speed}, negative_prompt="gradients")
    assert statuses(gen) == ["succeeded"]
    assert (fake.requests[0]["style_type"], fake.requests[0]["rendering_speed"], fake.requests[0]["negative_prompt"]) == (style, speed, "gradients")


@pytest.mark.parametrize("model", ["V_2", "V_2_TURBO"])
def test_legacy_models_use_the_legacy_endpoint_and_names(ws, fake, model):
    gen = generate(ws, count=2, model=model, magic_prompt="AUTO", style="DESIGN", aspect_ratio="4x3", palette=PRESETS["PASTEL"])
    assert statuses(gen) == ["succeeded"] * 2
    request = fake.requests[0]
    assert request["path"] == "/generate"
    assert request["image_request"] == {
        "prompt": request["image_request"]["prompt"], "model": model, "aspect_ratio": "ASPECT_4_3", "num_images": 2,
        "seed": 1000, "magic_prompt_option": "AUTO", "style_type": "DESIGN", "color_palette": {"name": "PASTEL"},
    }


def test_a_legacy_model_refuses_a_ratio_it_lacks_before_any_call(ws, fake):
    gen = generate(ws, count=1, model="V_2", aspect_ratio="4x5")
    assert statuses(gen) == ["failed"] and "V_2 does not offer the 4x5 aspect ratio" in gen.candidates[0].error
    assert fake.requests == []


def test_unknown_options_are_refused_before_any_call(ws, fake):
    gen = generate(ws, count=1, options={"rendering_speed": "WARP"})
    assert "rendering_speed" in gen.candidates[0].error and fake.requests == []


@pytest.mark.parametrize(
    "fault, message",
    [
        ({"status": 401, "body": {"error": f"bad key {KEY}"}}, "Ideogram rejected the API key (HTTP 401): check IDEOGRAM_API_KEY."),
        ({"status": 402}, "out of credits (HTTP 402)"),
        ({"status": 422, "body": {"error": "Prompt failed the safety check."}}, "safety check refused the prompt: Prompt failed the safety check."),
        ({"status": 400, "body": {"error": "Invalid seed"}}, "Ideogram refused a parameter: Invalid seed."),
        ({"status": 400, "body": {"error": f"Bad header Api-Key: {KEY}"}}, "Ideogram refused a parameter: Bad header Api-Key: [redacted]."),
    ],
)
def test_final_errors_become_clear_messages_without_the_key(ws, fake, fault, message):
    fake.faults.append(fault)
    gen = generate(ws, count=2)
    assert statuses(gen) == ["failed", "failed"]
    # Not retried: a second attempt would have found no fault and succeeded.
    assert message in gen.candidates[0].error and message in gen.error
    with ws.engine.connect() as conn:
        dump = json.dumps([list(map(str, row)) for t in ("generations", "candidates") for row in conn.exec_driver_sql(f"SELECT * FROM {t}")])
    assert KEY not in dump


@pytest.mark.parametrize(
    "faults",
    [
        [{"status": 429, "headers": {"Retry-After": "0"}}],
        [{"status": 429}, {"status": 503}],
        [{"status": 500}, {"status": 502}, {"status": 504}],
    ],
)
def test_rate_limits_and_server_errors_are_retried(ws, fake, faults):
    fake.faults.extend(faults)
    gen = generate(ws, count=2)
    assert statuses(gen) == ["succeeded"] * 2
    assert fake.faults == []


def test_retries_are_bounded_then_reported(ws, fake):
    fake.faults.extend([{"status": 429}] * 10)
    gen = generate(ws, count=1)
    assert "rate limiting (HTTP 429)" in gen.candidates[0].error
    assert len(fake.faults) == 10 - Settings().provider_attempts


def test_a_slow_answer_times_out_clearly(ws, fake, monkeypatch):
    monkeypatch.setenv("IMAGEGEN_PROVIDER_TIMEOUT", "0.3")
    monkeypatch.setenv("IMAGEGEN_PROVIDER_ATTEMPTS", "1")
    fake.faults.append({"delay": 1.0})
    gen = generate(open_workspace(Settings()), count=1)
    assert "Ideogram did not answer within 0.3 s." in gen.candidates[0].error


def test_unsafe_images_are_blocked_and_the_rest_kept(ws, fake):
    fake.faults.append({"unsafe": [1, 2]})
    gen = generate(ws, count=4)
    assert statuses(gen) == ["succeeded", "blocked", "blocked", "succeeded"]
    assert gen.status.value == "succeeded"
    assert gen.candidates[1].error == "Blocked by the provider's safety filter."


@pytest.mark.parametrize(
    "kind, message",
    [
        ("truncated", "damaged or truncated"),
        ("html", "not a PNG, JPEG or WebP"),
        ("expired", "image link has expired or is gone (HTTP 403)"),
        ("offlist", "Refused to download a result from http://127.0.0.2"),
        ("redirect-offlist", "Refused to download a result from https://evil.example"),
        ("huge", "over the 1 MB limit"),
    ],
)
def test_bad_downloads_fail_their_candidate_with_a_reason(ws, fake, monkeypatch, kind, message):
    monkeypatch.setenv("IMAGEGEN_MAX_IMAGE_BYTES", "1000000")
    fake.faults.append({"image": kind})
    gen = generate(open_workspace(Settings()), count=2)
    assert statuses(gen) == ["failed", "failed"]
    assert message in gen.candidates[0].error
    assert all(c.image_key is None for c in gen.candidates)


def test_good_images_of_a_job_survive_a_later_failed_request(ws, fake, monkeypatch):
    monkeypatch.setenv("IDEOGRAM_MAX_IN_FLIGHT", "2")  # 4 candidates -> two requests of 2
    fake.faults.extend([{}, {"status": 402}])
    gen = generate(open_workspace(Settings()), count=4)
    assert statuses(gen) == ["succeeded", "succeeded", "failed", "failed"]


def test_the_in_flight_limit_holds_across_jobs(ws, fake, monkeypatch):
    monkeypatch.setenv("IDEOGRAM_MAX_IN_FLIGHT", "10")
    fake.faults.extend([{"delay": 0.2}] * 4)
    workspace = open_workspace(Settings())
    agent = workspace.get_agent("trend-radar")
    ids = [start_generation(workspace, "trend-radar", make_spec(workspace, agent, provider="ideogram", count=8, seed=s)) for s in (1, 100)]
    for gen_id in ids:
        workspace.jobs.submit(gen_id)
    for gen_id in ids:
        workspace.jobs.wait(gen_id, timeout=30)
    assert [statuses(workspace.get_generation(i)) for i in ids] == [["succeeded"] * 8] * 2
    assert fake.peak_images == 8  # never 16: the second job waited for the first one's images


def test_the_in_flight_budget_is_released_once_the_answer_is_in_not_after_downloads(ws, fake):
    """Issue 15: downloads, checks and saves happen after the budget is given back, so the next
    request reaches Ideogram while the previous one's images are still downloading."""
    fake.faults.extend([{"delay": 0.1}] * 2)
    fake.download_delay = 1.0
    ids = [start_generation(ws, "trend-radar", make_spec(ws, ws.get_agent("trend-radar"), provider="ideogram", count=8, seed=s)) for s in (1, 100)]
    for gen_id in ids:
        ws.jobs.submit(gen_id)
    for gen_id in ids:
        ws.jobs.wait(gen_id, timeout=30)
    assert [statuses(ws.get_generation(i)) for i in ids] == [["succeeded"] * 8] * 2
    assert fake.peak_images == 8  # the limit of 10 still holds
    # The second call arrived before the first call's 8 downloads were through (each takes 1 s).
    # (Counting the downloads under way instead raced: on a busy machine the second call could
    # arrive before the first download had even started, and CI saw 0.)
    assert fake.downloads_done_at_post[0] == 0 and fake.downloads_done_at_post[1] < 8


def test_without_a_key_ideogram_is_disabled_with_the_variable_named(monkeypatch):
    monkeypatch.delenv("IDEOGRAM_API_KEY", raising=False)
    choice = {c.cls.name: c for c in provider_choices(Settings())}["ideogram"]
    assert not choice.enabled and "set IDEOGRAM_API_KEY" in choice.reason


def test_upscale_sends_the_candidate_and_keeps_the_result_as_a_new_candidate(ws, fake):
    from imagegen.generation import upscale_candidate

    original = generate(ws, count=1).candidates[0]
    gen_id = upscale_candidate(ws, original.id)
    run_to_completion(ws, gen_id)
    upscaled = ws.get_generation(gen_id)
    assert statuses(upscaled) == ["succeeded"]
    request = fake.requests[-1]
    assert request["path"] == "/upscale"
    assert request["image_request"]["resemblance"] == 50 and request["image_request"]["seed"] == original.seed
    assert upscaled.recipe.options["upscale_of"] == original.id
    assert (upscaled.candidates[0].width, original.width) == (256, 128)


def test_the_studio_offers_ideogram_with_its_options_and_generates(fake):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert at.selectbox(key="provider").value == "ideogram"  # the default once a key is set
    assert at.selectbox(key="template_ideogram").value == "pop-art"
    assert at.selectbox(key="palette_name").value == "brand"
    assert at.selectbox(key="model_ideogram").options == ["V_3", "V_2", "V_2_TURBO"]
    assert at.selectbox(key="option_ideogram_rendering_speed").value == "DEFAULT"
    at.selectbox(key="option_ideogram_rendering_speed").select("TURBO").run()
    at.selectbox(key="style_ideogram").select("DESIGN").run()
    at.text_input(key="negative_prompt").input("gradients").run()
    at.slider(key="count").set_value(2).run()
    at.button(key="generate").click().run()
    assert not at.exception
    deadline = time.monotonic() + 30
    while len([b for b in at.button if b.label == "Approve"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        at.run()
    assert len([b for b in at.button if b.label == "Upscale"]) == 2
    request = fake.requests[0]
    assert (request["rendering_speed"], request["style_type"], request["negative_prompt"], request["magic_prompt"]) == ("TURBO", "DESIGN", "gradients", "OFF")
    page = repr(at._tree)
    assert "Trend Radar" in page and KEY not in page  # the page shows its text, never the key
    st.cache_resource.clear()


def test_the_cli_passes_every_option_to_ideogram(fake, tmp_path, capsys):
    from imagegen.cli import main

    assert main(["generate", "--agent", "pixel-poster", "--provider", "ideogram", "--count", "3", "--seed", "9", "--aspect", "4x5",
                 "--palette", "MAGIC", "--style", "FICTION", "--magic-prompt", "ON", "--negative-prompt", "text",
                 "--option", "rendering_speed=QUALITY", "--out", str(tmp_path / "o")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in summary["candidates"]] == ["succeeded"] * 3
    request = fake.requests[0]
    assert {k: request[k] for k in ("num_images", "seed", "aspect_ratio", "style_type", "magic_prompt", "negative_prompt", "rendering_speed", "color_palette")} == {
        "num_images": 3, "seed": 9, "aspect_ratio": "4x5", "style_type": "FICTION", "magic_prompt": "ON",
        "negative_prompt": "text", "rendering_speed": "QUALITY", "color_palette": {"name": "MAGIC"},
    }
    assert summary["candidates"][0]["file"].endswith(".png")
    assert main(["generate", "--agent", "ai", "--provider", "ideogram", "--option", "speed", "--out", "o"]) == 1
    assert "--option takes KEY=VALUE" in capsys.readouterr().err


def test_more_results_than_asked_are_never_downloaded(ws, fake):
    """Measured: a one-image request answered with 64 URLs downloaded all 64."""
    fake.faults.append({"extra": 63})
    gen = generate(ws, count=1)
    assert statuses(gen) == ["succeeded"]
    assert len(fake.downloads) == 1


def test_an_answer_whose_data_is_an_object_is_one_clear_error(ws, fake):
    fake.faults.append({"status": 200, "body": {"data": {"url": "x"}}})
    gen = generate(ws, count=1)
    assert statuses(gen) == ["failed"]
    assert "unexpected shape" in gen.candidates[0].error


def test_a_batch_keeps_the_providers_in_flight_budget_full_and_never_passes_it(ws, fake):
    """Measured (issue 15): a batch waited for each agent before starting the next; 1.5 images in flight of 10."""
    import asyncio

    from imagegen.batch import create_batch, run_batch, select_agents
    from imagegen.records import BatchStatus

    agents = select_agents(ws)
    # Each call stays out 1 s: the five that fill the budget are all out at once even when a busy
    # machine spreads their starts (0.3 s could be outrun by the spread, and the peak read low).
    fake.faults.extend([{"delay": 1.0}] * len(agents))
    batch_id = create_batch(ws, agents, {"provider": "ideogram", "count": 2, "seed": 4})
    assert asyncio.run(run_batch(ws, batch_id)) is BatchStatus.DONE
    assert fake.peak_images == Settings().ideogram_max_in_flight == 10


def test_a_pause_holds_back_the_agents_waiting_for_the_budget_and_resume_pays_each_once(ws, fake):
    """Measured (issue 13's note): a batch starts twice as many agents as fit in flight, and a
    Pause let all of them call, and be paid for. Now only the calls already out finish; an agent
    still waiting sends nothing, stays pending, and its job resumes rather than starting again."""
    import asyncio
    import threading

    from imagegen.batch import batch_generations, create_batch, run_batch, select_agents, set_batch_status
    from imagegen.records import BatchStatus

    agents = select_agents(ws)[:10]
    answer = threading.Event()
    fake.faults.extend([{"hold": answer}] * 5)  # the first five agents' calls (2 images each fill the 10) stay out
    batch_id = create_batch(ws, agents, {"provider": "ideogram", "count": 2, "seed": 4})

    def pause_once_five_are_out() -> None:
        wait_until(lambda: len(fake.requests) == 5, 30, "five calls out", poll=0.01)
        set_batch_status(ws, batch_id, BatchStatus.PAUSED)
        answer.set()  # only now is there room for the five waiting

    pauser = threading.Thread(target=pause_once_five_are_out)
    pauser.start()
    assert asyncio.run(run_batch(ws, batch_id)) is BatchStatus.PAUSED
    pauser.join()
    assert len(fake.requests) == 5  # the five agents waiting behind them sent nothing
    items = batch_generations(ws, batch_id)
    assert [i.status.value for i, _ in items].count("done") == 5
    held = [g for i, g in items if i.status.value == "pending" and g is not None]
    assert len(held) == 5 and {g.status.value for g in held} == {"interrupted"}
    assert all(c.status.value == "interrupted" and "Paused" in c.error for g in held for c in g.candidates)
    assert sum(g.reserved_usd for g in held) == 0 and sum(g.cost_usd or 0 for g in held) == 0  # nothing held against the budget

    set_batch_status(ws, batch_id, BatchStatus.RUNNING)
    assert asyncio.run(run_batch(ws, batch_id)) is BatchStatus.DONE
    assert len(fake.requests) == 10  # one call an agent, whether it was paused or not
    items = batch_generations(ws, batch_id)
    assert [i.status.value for i, _ in items] == ["done"] * 10
    assert {g.id for _, g in items} >= {g.id for g in held}  # the held-back jobs were resumed, not replaced
    assert all(c.status.value == "succeeded" for _, g in items for c in g.candidates)


def test_a_batch_the_budget_pauses_lets_its_reserved_agents_call_and_a_persons_pause_does_not(fake, monkeypatch):
    import asyncio

    from imagegen.batch import batch_generations, create_batch, may_go_ahead, run_batch, select_agents, set_batch_status
    from imagegen.records import BatchStatus

    monkeypatch.setenv("IMAGEGEN_DAILY_BUDGET", "0.30")  # five Ideogram images at $0.06
    workspace = open_workspace(Settings())
    try:
        batch_id = create_batch(workspace, select_agents(workspace)[:10], {"provider": "ideogram", "count": 1, "seed": 4})
        assert asyncio.run(run_batch(workspace, batch_id)) is BatchStatus.PAUSED
        assert len(fake.requests) == 5  # the five that reserved their share were paid for and kept
        assert [i.status.value for i, _ in batch_generations(workspace, batch_id)].count("done") == 5
        assert may_go_ahead(workspace, batch_id)  # the budget's own pause holds no reserved job back
        set_batch_status(workspace, batch_id, BatchStatus.PAUSED)  # a person's Pause of the same batch
        assert not may_go_ahead(workspace, batch_id)
        set_batch_status(workspace, batch_id, BatchStatus.RUNNING)
        assert may_go_ahead(workspace, batch_id)
        set_batch_status(workspace, batch_id, BatchStatus.CANCELED)
        assert not may_go_ahead(workspace, batch_id)
    finally:
        workspace.close()


def test_a_resume_while_the_paused_run_still_drains_runs_the_agents_it_held_back(ws, fake):
    """Review: a Resume that lands while the paused run is still saving its last images cannot
    start a second run (the first holds the batch), so the first one must take back the agents
    it held back; it used to end with them pending and the batch running, with nobody to run it."""
    import asyncio
    import threading

    from imagegen.batch import batch_generations, create_batch, run_batch, select_agents, set_batch_status
    from imagegen.records import BatchStatus, Generation, GenerationStatus

    answer, fake.download_gate = threading.Event(), threading.Event()
    fake.faults.extend([{"hold": answer}] * 5)
    # The first five agents' images are downloaded only after the Resume: the paused run is still draining.
    batch_id = create_batch(ws, select_agents(ws)[:10], {"provider": "ideogram", "count": 2, "seed": 4})

    def held_back() -> int:
        with ws.session() as s:
            return s.query(Generation).filter(Generation.status == GenerationStatus.INTERRUPTED).count()

    def pause_then_resume() -> None:
        wait_until(lambda: len(fake.requests) == 5, 30, "five calls out", poll=0.01)
        set_batch_status(ws, batch_id, BatchStatus.PAUSED)
        answer.set()
        wait_until(lambda: held_back() == 5, 30, "five agents held back", poll=0.01)
        set_batch_status(ws, batch_id, BatchStatus.RUNNING)
        fake.download_gate.set()

    changer = threading.Thread(target=pause_then_resume)
    changer.start()
    assert asyncio.run(run_batch(ws, batch_id)) is BatchStatus.DONE
    changer.join()
    assert [i.status.value for i, _ in batch_generations(ws, batch_id)] == ["done"] * 10
    assert len(fake.requests) == 10 and held_back() == 0


def test_a_workers_job_resumed_while_it_was_being_held_back_runs_its_agent(ws, fake, monkeypatch):
    """The job asked while the batch was paused, and the batch was running again by the time it
    stood down: it runs the agent (a resume's new job for it waits behind this one's lock)."""
    import asyncio

    from imagegen import batch
    from imagegen.batch import batch_generations, create_batch, run_batch_item, select_agents

    answers = iter([False])  # paused when it asked the first time; resumed right after
    monkeypatch.setattr(batch, "may_go_ahead", lambda ws_, batch_id: next(answers, True))
    batch_id = create_batch(ws, select_agents(ws)[:1], {"provider": "ideogram", "count": 1, "seed": 4})
    item = batch_generations(ws, batch_id)[0][0]
    asyncio.run(run_batch_item(ws, batch_id, item.id))
    [(item, gen)] = batch_generations(ws, batch_id)
    assert item.status.value == "done" and gen.status.value == "succeeded"
    assert len(fake.requests) == 1


def held_back_batch_item(monkeypatch, budget: str):
    """A one-agent batch whose job a Pause held back (nothing sent, the job interrupted, the agent
    pending), with the day's budget then spent by a studio job: (workspace, batch id, item id)."""
    import asyncio

    from imagegen.batch import batch_generations, create_batch, select_agents
    from imagegen.generation import run_generation

    monkeypatch.setenv("IMAGEGEN_DAILY_BUDGET", budget)
    workspace = open_workspace(Settings())
    agent = select_agents(workspace)[0]
    batch_id = create_batch(workspace, [agent], {"provider": "ideogram", "count": 1, "seed": 4})
    item = batch_generations(workspace, batch_id)[0][0]
    spec = make_spec(workspace, agent, provider="ideogram", count=1, seed=4)
    job = start_generation(workspace, agent.slug, spec, batch_item_id=item.id)
    assert asyncio.run(run_generation(workspace, job, go_ahead=lambda: False)).value == "interrupted"
    generate(workspace, count=2)  # a studio job spends what the held-back one gave back
    return workspace, batch_id, item.id


def test_a_worker_resuming_a_held_back_agent_over_budget_pauses_the_batch_for_the_budget(fake, monkeypatch):
    """Measured (review): the worker queued the held-back job again before reading the batch, the
    budget refused it there, the job failed uncaught, and the batch stayed running for ever."""
    import asyncio

    from imagegen.batch import get_batch
    from imagegen.worker import run_queued_item

    workspace, batch_id, item_id = held_back_batch_item(monkeypatch, "0.12")  # two images at $0.06
    try:
        asyncio.run(run_queued_item(workspace, batch_id, item_id))
        batch = get_batch(workspace, batch_id)
        assert batch.status.value == "paused" and batch.budget_paused
        assert len(fake.requests) == 1  # only the studio job's call
    finally:
        workspace.close()


def test_a_worker_job_for_a_canceled_batch_reserves_nothing_for_its_held_back_agent(fake, monkeypatch):
    import asyncio

    from imagegen.batch import batch_generations, set_batch_status
    from imagegen.records import BatchStatus
    from imagegen.worker import run_queued_item

    workspace, batch_id, item_id = held_back_batch_item(monkeypatch, "10")
    try:
        set_batch_status(workspace, batch_id, BatchStatus.CANCELED)  # after a Resume had queued the agent's job again
        asyncio.run(run_queued_item(workspace, batch_id, item_id))
        gen = batch_generations(workspace, batch_id)[0][1]
        assert gen.status.value == "interrupted" and gen.reserved_usd == 0  # not queued again, holding budget
        assert len(fake.requests) == 1
    finally:
        workspace.close()


def test_ideogram_settings_live_with_the_provider_under_the_same_variables(monkeypatch):
    import imagegen.settings
    from imagegen.providers.ideogram import IdeogramSettings
    from tests.conftest import ENV_VARS

    own = {f.alias for f in IdeogramSettings.model_fields.values()}
    assert own == {"IDEOGRAM_API_KEY", "IDEOGRAM_BASE_URL", "IDEOGRAM_MAX_IN_FLIGHT"}
    assert own <= set(ENV_VARS)  # the test fixture still clears each of them
    assert "IDEOGRAM" not in Path(imagegen.settings.__file__).read_text()  # declared once, in the provider's module
    monkeypatch.setenv("IDEOGRAM_API_KEY", "ideo-secret-from-env")
    monkeypatch.setenv("IDEOGRAM_MAX_IN_FLIGHT", "3")
    settings = Settings()
    assert settings.ideogram_api_key.get_secret_value() == "ideo-secret-from-env" and settings.ideogram_max_in_flight == 3
    assert "ideo-secret-from-env" not in repr(settings) + str(settings.model_dump())
    assert IdeogramSettings().ideogram_max_in_flight == 3  # usable on its own too
    monkeypatch.setenv("IDEOGRAM_API_KEY", "  ")
    assert Settings().ideogram_api_key is None  # blank is no key: the studio says which variable to set


def test_vary_remixes_the_candidate_on_3_0_and_the_recipe_names_the_parent(ws, fake):
    from imagegen.generation import vary_candidate

    parent = generate(ws, count=2, palette=PRESETS["EMBER"], style="DESIGN").candidates[1]
    gen_id = vary_candidate(ws, parent.id)
    run_to_completion(ws, gen_id)
    varied = ws.get_generation(gen_id)
    assert statuses(varied) == ["succeeded"] * 2  # a new set, as many as the parent's recipe made
    remix = fake.requests[-1]
    assert remix["path"] == "/v1/ideogram-v3/remix"
    assert remix["image"] == ws.media.get(parent.image_key)  # the parent's own bytes
    assert remix["image_weight"] == 50 and remix["num_images"] == 2
    assert (remix["color_palette"], remix["style_type"]) == ({"name": "EMBER"}, "DESIGN")  # the rest of the recipe kept
    assert varied.recipe.options["vary_of"] == parent.id


def test_vary_is_refused_where_ideogram_cannot_remix(ws, fake):
    from imagegen.errors import InvalidInput
    from imagegen.generation import vary_candidate

    legacy = generate(ws, count=1, model="V_2").candidates[0]
    with pytest.raises(InvalidInput, match="V_2 cannot make variations"):
        vary_candidate(ws, legacy.id)
    assert [r["path"] for r in fake.requests] == ["/generate"]


def test_a_workers_turn_ends_when_the_answer_is_in_not_when_the_image_is_saved(ws, fake, monkeypatch):
    """A worker's next job calls as soon as the last answer is in: the images of the job before
    are downloaded and saved outside its turn, so a slow disk or S3 does not idle the budget."""
    ws.calling_jobs = 1  # `python -m imagegen worker --concurrency 1`
    fake.faults.extend([{"delay": 0.2}] * 2)
    posts, saved = [], []
    take_fault = fake.take_fault
    monkeypatch.setattr(fake, "take_fault", lambda: (posts.append(time.monotonic()), take_fault())[1])
    put = ws.media.put

    def slow_put(data, image_format, **kw):
        time.sleep(1.0)
        saved.append(time.monotonic())
        return put(data, image_format, **kw)

    monkeypatch.setattr(ws.media, "put", slow_put)
    jobs = [start_generation(ws, slug, make_spec(ws, ws.get_agent(slug), provider="ideogram", count=1, seed=7))
            for slug in ("trend-radar", "sql-sherpa")]

    run_together(ws, jobs)
    assert [statuses(ws.get_generation(job)) for job in jobs] == [["succeeded"], ["succeeded"]]
    assert fake.peak_images == 1  # one call at a time: the worker's turn, not Ideogram's limit of 10
    assert len(posts) == 2 and posts[1] < saved[0]  # the second call went out while the first image was saving


def test_a_pause_holds_back_a_later_call_of_an_agent_that_waited_for_the_budget(fake, monkeypatch):
    """Eight images in calls of four, four in flight: the agent's second call waits for the
    first's answer. A Pause that lands meanwhile holds it back; it used to share the first
    call's go-ahead, read before the Pause, and be sent and paid for. Resume asks for those four."""
    import asyncio
    import threading

    from imagegen.batch import batch_generations, create_batch, run_batch, select_agents, set_batch_status
    from imagegen.records import BatchStatus

    monkeypatch.setenv("IDEOGRAM_MAX_IN_FLIGHT", "4")
    workspace = open_workspace(Settings())
    answer = threading.Event()
    fake.faults.append({"hold": answer})
    batch_id = create_batch(workspace, select_agents(workspace)[:1], {"provider": "ideogram", "count": 8, "seed": 4})

    def pause_once_the_first_call_is_out() -> None:
        wait_until(lambda: len(fake.requests) == 1, 30, "the first call out", poll=0.01)
        set_batch_status(workspace, batch_id, BatchStatus.PAUSED)
        answer.set()

    pauser = threading.Thread(target=pause_once_the_first_call_is_out)
    pauser.start()
    assert asyncio.run(run_batch(workspace, batch_id)) is BatchStatus.PAUSED
    pauser.join()
    assert len(fake.requests) == 1
    [(item, gen)] = batch_generations(workspace, batch_id)
    assert item.status.value == "pending" and gen.status.value == "interrupted"
    assert [c.status.value for c in gen.candidates] == ["succeeded"] * 4 + ["interrupted"] * 4

    set_batch_status(workspace, batch_id, BatchStatus.RUNNING)
    assert asyncio.run(run_batch(workspace, batch_id)) is BatchStatus.DONE
    assert [int(r["num_images"]) for r in fake.requests] == [4, 4]  # the four held back, once
    [(item, gen)] = batch_generations(workspace, batch_id)
    assert item.status.value == "done" and [c.status.value for c in gen.candidates] == ["succeeded"] * 8
