"""Replicate through the real `replicate` client against a fake server on 127.0.0.1."""

import asyncio
import io
import json
import time
from pathlib import Path

import pytest
from PIL import Image

from imagegen.generation import run_to_completion, start_generation
from imagegen.recipes import make_spec
from imagegen.settings import Settings
from imagegen.jobs import open_workspace
from tests.fake_replicate import TOKEN, FakeReplicate
from tests.fakes import run_together, wait_until

PRO, SCHNELL, TURBO = "black-forest-labs/flux-1.1-pro", "black-forest-labs/flux-schnell", "ideogram-ai/ideogram-v3-turbo"


@pytest.fixture
def fake(monkeypatch, isolated):
    server = FakeReplicate(extra_models=("acme/pixel-painter",)).start()
    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
    monkeypatch.setenv("REPLICATE_BASE_URL", server.base_url)
    monkeypatch.setenv("IMAGEGEN_DOWNLOAD_HOSTS", server.base_url)
    monkeypatch.setenv("IMAGEGEN_RETRY_MAX_WAIT", "0.05")
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.02")
    yield server
    server.stop()
    assert server.problems == []


@pytest.fixture
def ws(fake):
    workspace = open_workspace(Settings())
    yield workspace
    workspace.close()


def generate(ws, model=PRO, slug="sql-sherpa", **choices):
    choices.setdefault("count", 1)
    choices.setdefault("seed", 5)
    spec = make_spec(ws, ws.get_agent(slug), provider="replicate", model=model, **choices)
    gen_id = start_generation(ws, slug, spec)
    run_to_completion(ws, gen_id)
    return ws.get_generation(gen_id)


def statuses(gen):
    return [c.status.value for c in gen.candidates]


def test_flux_pro_defaults_reproduce_the_app_store_recipe(ws, fake):
    gen = generate(ws, aspect_ratio="4x3")
    assert statuses(gen) == ["succeeded"]
    [create] = fake.creates
    assert create["model"] == PRO and create["prefer"] == "wait=60"
    assert create["input"] | {"prompt": "-"} == {
        "prompt": "-", "seed": 5, "aspect_ratio": "custom", "width": 1024, "height": 768,
        "output_format": "jpg", "output_quality": 90, "safety_tolerance": 2, "prompt_upsampling": False,
    }
    assert create["input"]["prompt"].startswith("Create a visually engaging app store thumbnail")
    stored = Image.open(io.BytesIO(ws.media.get(gen.candidates[0].image_key)))
    assert stored.format == "JPEG"


def test_four_flux_pro_candidates_are_four_concurrent_predictions(ws, fake):
    gen = generate(ws, count=4, aspect_ratio="16x9", options={"output_format": "png", "safety_tolerance": 5, "prompt_upsampling": True})
    assert statuses(gen) == ["succeeded"] * 4
    assert len(fake.creates) == 4
    assert {c["input"]["aspect_ratio"] for c in fake.creates} == {"16:9"}
    assert sorted(c["input"]["seed"] for c in fake.creates) == [5, 6, 7, 8]


@pytest.mark.parametrize("model, predictions", [(PRO, 8), (SCHNELL, 2)])
def test_eight_candidates_are_all_in_flight_at_once_on_each_model(ws, fake, model, predictions):
    """Measured (issue 14): a 4-image budget ran Flux Pro in two waves of four and queued
    Schnell's second prediction behind the first. Replicate limits creation rate, not concurrency."""
    fake.delay = 1.0  # long enough that a busy machine's spread of the creates cannot hide the peak
    gen = generate(ws, model=model, count=8, aspect_ratio="1x1")
    assert statuses(gen) == ["succeeded"] * 8
    assert len(fake.creates) == predictions
    assert fake.peak == predictions  # every prediction in flight at once: one round-trip


def test_predictions_are_split_evenly_so_none_waits_for_a_short_one(ws, fake):
    generate(ws, model=SCHNELL, count=5, aspect_ratio="1x1")
    assert sorted(c["input"]["num_outputs"] for c in fake.creates) == [2, 3]  # not 4 then 1


def test_creating_predictions_keeps_to_the_per_minute_rate(ws, fake, monkeypatch):
    from imagegen.providers import replicate

    monkeypatch.setattr(replicate, "RATE_WINDOW", 3.0)  # a minute, shortened for the test
    monkeypatch.setenv("REPLICATE_CREATES_PER_MINUTE", "2")
    gen = generate(open_workspace(Settings()), count=3)
    assert statuses(gen) == ["succeeded"] * 3
    first, _, third = sorted(c["at"] for c in fake.creates)
    # The third waited for the window to move on. Measured where the requests arrive, so half a window
    # is left for the first request's connection set-up (the exact spacing is pinned just below).
    assert third - first >= 1.5


def test_the_creation_limiter_lets_a_burst_through_then_waits_for_the_window():
    from imagegen.providers.replicate import RateLimiter

    now, allowed = [0.0], []

    async def sleep(seconds):
        now[0] += seconds

    async def calls():
        limiter = RateLimiter(2, 60.0, clock=lambda: now[0], sleep=sleep)
        for gap in (0.0, 1.0, 0.0, 0.0, 70.0):
            now[0] += gap
            await limiter.wait()
            allowed.append(now[0])

    asyncio.run(calls())
    # Two at once, the third when the first leaves the window, the fourth when the second does;
    # after a quiet spell a call goes at once.
    assert allowed == [0.0, 1.0, 60.0, 61.0, 131.0]


def test_custom_flux_sizes_are_checked_before_any_call(ws, fake):
    gen = generate(ws, options={"width": 1000, "height": 768})
    assert statuses(gen) == ["failed"] and "multiple of 32" in gen.candidates[0].error
    gen = generate(ws, options={"width": 1024})
    assert "give both width and height" in gen.candidates[0].error
    assert fake.creates == []
    gen = generate(ws, options={"width": 1440, "height": 256})
    assert fake.creates[0]["input"]["width"] == 1440 and statuses(gen) == ["succeeded"]


def test_schnell_returns_several_outputs_from_one_prediction(ws, fake):
    gen = generate(ws, model=SCHNELL, count=6, aspect_ratio="1x1", options={"megapixels": "0.25", "go_fast": True})
    assert statuses(gen) == ["succeeded"] * 6
    assert sorted(c["input"]["num_outputs"] for c in fake.creates) == [3, 3]
    assert {c["input"]["go_fast"] for c in fake.creates} == {True}


def test_ideogram_on_replicate_uses_title_case_and_colons(ws, fake):
    gen = generate(ws, model=TURBO, aspect_ratio="16x9", magic_prompt="ON", options={"style_type": "Design"})
    assert statuses(gen) == ["succeeded"]
    body = fake.creates[0]["input"]
    assert (body["aspect_ratio"], body["magic_prompt_option"], body["style_type"]) == ("16:9", "On", "Design")
    assert body["prompt"].endswith("Use only these colours: #000030, #1C0C47, #9900FF, #4285F4, #FFFFFF.")


def test_a_model_added_by_slug_runs_with_its_options(ws, fake, monkeypatch):
    monkeypatch.setenv("REPLICATE_MODELS", "acme/pixel-painter")
    gen = generate(open_workspace(Settings()), model="acme/pixel-painter", options={"style": "8-bit"})
    assert statuses(gen) == ["succeeded"] and fake.creates[0]["input"]["style"] == "8-bit"


def test_slow_predictions_are_polled_to_completion(ws, fake):
    fake.faults.append({"outcome": "slow"})
    gen = generate(ws)
    assert statuses(gen) == ["succeeded"] and fake.polls >= 2


def test_a_prediction_past_the_deadline_is_canceled_on_replicate(ws, fake, monkeypatch):
    monkeypatch.setenv("IMAGEGEN_PROVIDER_TIMEOUT", "0.5")
    fake.faults.append({"outcome": "never"})
    gen = generate(open_workspace(Settings()))
    assert "still running after 0.5 s, so it was canceled" in gen.candidates[0].error
    assert len(fake.cancels) == 1


def test_a_curators_cancel_cancels_the_prediction(ws, fake):
    fake.faults.extend([{"outcome": "never"}] * 2)
    spec = make_spec(ws, ws.get_agent("sql-sherpa"), provider="replicate", model=PRO, count=2, seed=1)
    gen_id = start_generation(ws, "sql-sherpa", spec)
    ws.jobs.submit(gen_id)
    # Both predictions made and waited on (a Cancel during a create has its own test below).
    wait_until(lambda: len(fake.predictions) == 2 and all(p["_polls"] for p in list(fake.predictions.values())), 30,
               "both predictions polled")
    assert ws.jobs.cancel(gen_id)
    wait_until(lambda: len(fake.cancels) == 2, 30, "two cancels", poll=0.02)
    assert sorted(fake.cancels) == sorted(p for p in fake.predictions)
    wait_until(lambda: ws.get_generation(gen_id).status.finished, 30, "the job to end", poll=0.02)
    assert statuses(ws.get_generation(gen_id)) == ["canceled", "canceled"]


def test_a_cancel_while_replicate_holds_the_answer_cancels_the_prediction_it_made(ws, fake):
    """Review: with `Prefer: wait` the prediction exists while Replicate holds the create's
    answer, and a Cancel then dropped the request: no id, nothing canceled, the model ran on
    and was paid. Now the create is left to answer and its prediction is canceled."""
    import threading

    fake.faults.append({"outcome": "never"})
    fake.sync_hold = answer = threading.Event()  # the answer comes only after the Cancel
    spec = make_spec(ws, ws.get_agent("sql-sherpa"), provider="replicate", model=PRO, count=1, seed=1)
    gen_id = start_generation(ws, "sql-sherpa", spec)
    ws.jobs.submit(gen_id)
    wait_until(lambda: len(fake.predictions) == 1, 30, "the prediction made")
    assert ws.jobs.cancel(gen_id)
    wait_until(lambda: ws.get_generation(gen_id).status.finished, 30, "the job to end")
    assert statuses(ws.get_generation(gen_id)) == ["canceled"]
    answer.set()
    wait_until(lambda: fake.cancels == list(fake.predictions), 30, "the prediction canceled on Replicate")
    assert fake.polls == 0  # canceled from the create's own answer: the job had stopped waiting on it


@pytest.mark.parametrize(
    "fault, message",
    [
        ({"status": 401}, "Replicate rejected the API key (HTTP 401): check REPLICATE_API_TOKEN."),
        ({"status": 402}, "out of credits (HTTP 402)"),
        ({"status": 422}, "Replicate refused a parameter: - input.prompt: prompt is flagged as sensitive"),
        ({"outcome": "failed"}, "Replicate says the prediction failed: CUDA out of memory"),
        ({"outcome": "canceled"}, "canceled on Replicate"),
        ({"outcome": "aborted"}, "aborted the prediction before it started"),
        ({"image": "bad-bytes"}, "damaged or truncated"),
        ({"image": "offlist"}, "Refused to download a result from http://127.0.0.2"),
    ],
)
def test_faults_end_as_clear_candidate_errors(ws, fake, monkeypatch, fault, message):
    if fault.get("status") == 401:
        monkeypatch.setenv("REPLICATE_API_TOKEN", "test-wrong-token")
        ws = open_workspace(Settings())
    else:
        fake.faults.append(fault)
    gen = generate(ws)
    assert statuses(gen) == ["failed"]
    assert message in gen.candidates[0].error
    assert TOKEN not in gen.candidates[0].error and "test-wrong-token" not in gen.candidates[0].error


def test_429_and_500_on_create_are_retried_by_us(ws, fake):
    fake.faults.extend([{"status": 429}, {"status": 500}])
    gen = generate(ws)
    assert statuses(gen) == ["succeeded"] and fake.faults == []


def test_data_uri_outputs_are_decoded(ws, fake):
    fake.faults.append({"image": "data-uri"})
    gen = generate(ws, model=SCHNELL, count=2)
    assert statuses(gen) == ["succeeded"] * 2
    assert Image.open(io.BytesIO(ws.media.get(gen.candidates[0].image_key))).format == "WEBP"


def test_good_images_survive_a_failed_prediction_in_the_same_job(ws, fake):
    fake.faults.extend([{}, {"outcome": "failed"}, {}])
    gen = generate(ws, count=3)
    assert sorted(statuses(gen)) == ["failed", "succeeded", "succeeded"]
    assert gen.status.value == "succeeded"


def test_the_cli_generates_with_replicate(fake, tmp_path, capsys):

    from imagegen.cli import main

    assert main(["generate", "--agent", "bug-hunter", "--provider", "replicate", "--model", SCHNELL, "--count", "2", "--out", str(tmp_path / "o")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in summary["candidates"]] == ["succeeded"] * 2
    assert all(c["file"].endswith(".webp") for c in summary["candidates"])
    for model, options in ((PRO, ["width=1440", "height=512", "prompt_upsampling=true"]), (TURBO, ["style_type=Realistic"])):
        args = ["generate", "--agent", "bug-hunter", "--provider", "replicate", "--model", model, "--count", "1", "--out", str(tmp_path / "p")]
        assert main(args + [a for o in options for a in ("--option", o)]) == 0
        assert json.loads(capsys.readouterr().out)["candidates"][0]["status"] == "succeeded"
    assert fake.creates[-2]["input"] | {"prompt": "-", "seed": 0} == {
        "prompt": "-", "seed": 0, "aspect_ratio": "custom", "width": 1440, "height": 512, "output_format": "jpg",
        "output_quality": 90, "safety_tolerance": 2, "prompt_upsampling": True,
    }
    assert fake.creates[-1]["input"]["style_type"] == "Realistic"


def test_the_studio_prefills_flux_and_shows_each_models_options(fake, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert at.selectbox(key="provider").value == "replicate"
    assert at.selectbox(key="model_replicate").value == PRO
    assert (at.selectbox(key="template_replicate").value, at.selectbox(key="aspect").value) == ("app-store", "4x3")
    assert at.text_area(key="prompt").value.startswith("Create a visually engaging app store thumbnail")
    assert at.selectbox(key="option_replicate_output_format").value == "jpg"
    assert at.number_input(key="option_replicate_output_quality").value == 90

    at.selectbox(key="model_replicate").select(SCHNELL).run()
    assert not at.warning
    at.toggle(key="option_replicate_go_fast").set_value(True).run()
    assert any("non-reproducible" in w.value for w in at.warning)
    at.slider(key="count").set_value(3).run()
    at.button(key="generate").click().run()
    deadline = time.monotonic() + 30
    while len([b for b in at.button if b.label == "Approve"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
        at.run()
    assert len([b for b in at.button if b.label == "Approve"]) == 3
    assert [c["input"]["num_outputs"] for c in fake.creates] == [3]

    # Another model keeps the recipe on screen and offers its own (issue 11, point 4).
    at.selectbox(key="model_replicate").select(TURBO).run()
    assert (at.selectbox(key="template_replicate").value, at.selectbox(key="aspect").value) == ("app-store", "4x3")
    assert any("would use pop-art at 16x9" in i.value for i in at.info)
    at.button(key="use_provider_defaults").click().run()
    assert (at.selectbox(key="template_replicate").value, at.selectbox(key="aspect").value) == ("pop-art", "16x9")
    st.cache_resource.clear()


def test_the_cli_default_for_flux_pro_is_the_original_recipe(fake, tmp_path, capsys):

    from imagegen.cli import main

    assert main(["generate", "--agent", "trend-radar", "--provider", "replicate", "--count", "1", "--out", str(tmp_path / "o")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["recipe"]["template"], summary["recipe"]["aspect_ratio"]) == ("app-store", "4x3")
    body = fake.creates[0]["input"]
    assert (body["width"], body["height"], body["output_format"], body["output_quality"]) == (1024, 768, "jpg", 90)
    assert Image.open(summary["candidates"][0]["file"]).format == "JPEG"


def test_a_failed_predictions_error_never_carries_the_token(ws, fake, capsys):
    """Measured: a 'failed' prediction whose error echoes the token stored it in the database."""
    fake.faults.append({"outcome": "failed", "error": f"bad auth header Bearer {TOKEN} for model"})
    gen = generate(ws)
    assert statuses(gen) == ["failed"]
    assert TOKEN not in gen.candidates[0].error and "[redacted]" in gen.candidates[0].error
    assert TOKEN not in (gen.error or "")


def test_replicate_settings_live_with_the_provider_under_the_same_variables(monkeypatch):
    import imagegen.settings
    from imagegen.providers.replicate import ReplicateSettings
    from tests.conftest import ENV_VARS

    own = {f.alias for f in ReplicateSettings.model_fields.values()}
    assert own == {"REPLICATE_API_TOKEN", "REPLICATE_BASE_URL", "REPLICATE_MODELS", "REPLICATE_MAX_IN_FLIGHT",
                   "REPLICATE_CREATES_PER_MINUTE", "REPLICATE_WAIT", "REPLICATE_POLL_INTERVAL"}
    assert own <= set(ENV_VARS)  # the test fixture still clears each of them
    assert "REPLICATE" not in Path(imagegen.settings.__file__).read_text()  # declared once, in the provider's module
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8-secret-from-env")
    monkeypatch.setenv("REPLICATE_WAIT", "5")
    settings = Settings()
    assert settings.replicate_api_token.get_secret_value() == "r8-secret-from-env" and settings.replicate_wait == 5
    assert "r8-secret-from-env" not in repr(settings) + str(settings.model_dump())
    monkeypatch.setenv("REPLICATE_API_TOKEN", "")
    assert Settings().replicate_api_token is None


def test_vary_sends_the_candidate_as_flux_pro_image_prompt_and_names_the_parent(ws, fake):
    import base64

    from imagegen.generation import vary_candidate

    parent = generate(ws, count=1).candidates[0]
    gen_id = vary_candidate(ws, parent.id)
    run_to_completion(ws, gen_id)
    varied = ws.get_generation(gen_id)
    assert statuses(varied) == ["succeeded"]
    sent = fake.creates[-1]["input"]
    assert sent["image_prompt"] == "data:image/jpeg;base64," + base64.b64encode(ws.media.get(parent.image_key)).decode()
    assert varied.recipe.options["vary_of"] == parent.id
    assert "image_prompt" not in fake.creates[0]["input"]  # only a variation carries it


def test_vary_is_refused_on_flux_schnell_which_takes_no_image(ws, fake):
    from imagegen.errors import InvalidInput
    from imagegen.generation import vary_candidate

    parent = generate(ws, model=SCHNELL, count=1, aspect_ratio="1x1").candidates[0]
    with pytest.raises(InvalidInput, match="flux-schnell cannot make variations"):
        vary_candidate(ws, parent.id)
    assert len(fake.creates) == 1


def test_a_workers_turn_is_one_job_with_all_its_predictions(ws, fake):
    """A worker lets `--concurrency` jobs call providers at once (`CallTurns`). A turn is a job,
    not a call: Flux 1.1 Pro's four one-image predictions go out together, and a second job
    waits for the turn instead of splitting the worker's share with the first."""
    ws.calling_jobs = 1  # what `python -m imagegen worker --concurrency 1` sets
    fake.delay = 1.0  # long enough that a busy machine's spread of the creates cannot hide the peak
    spec = make_spec(ws, ws.get_agent("sql-sherpa"), provider="replicate", model=PRO, count=4, seed=5, aspect_ratio="1x1")
    jobs = [start_generation(ws, "sql-sherpa", spec) for _ in range(2)]

    run_together(ws, jobs)
    assert [statuses(ws.get_generation(job)) for job in jobs] == [["succeeded"] * 4] * 2
    assert len(fake.creates) == 8 and fake.peak == 4  # one job's four at once; never both jobs' eight


def test_a_chunk_that_breaks_leaves_the_jobs_other_calls_to_land_inside_its_turn(ws, fake, monkeypatch):
    """One chunk of a job raising (a database error taking its slots, say) used to end the job
    at once: its turn went to the next job while the other prediction was still out, and that
    prediction's paid image came back to a job already marked failed."""
    import imagegen.generation as generation

    ws.calling_jobs = 1
    fake.delay = 0.5
    request = generation.ImageRequest

    def breaks_on_seed_5(**fields):
        if fields["seed"] == 5:
            raise RuntimeError("the slots could not be taken")
        return request(**fields)

    monkeypatch.setattr(generation, "ImageRequest", breaks_on_seed_5)
    first = start_generation(ws, "sql-sherpa", make_spec(ws, ws.get_agent("sql-sherpa"), provider="replicate", model=PRO, count=2, seed=5))
    second = start_generation(ws, "sql-sherpa", make_spec(ws, ws.get_agent("sql-sherpa"), provider="replicate", model=PRO, count=1, seed=100))

    run_together(ws, [first, second])
    assert fake.peak == 1  # the second job called only once the first job's last prediction was answered
    broken, landed = ws.get_generation(first).candidates
    assert (broken.status.value, landed.status.value) == ("failed", "succeeded") and ws.media.exists(landed.image_key)
    assert statuses(ws.get_generation(second)) == ["succeeded"]
