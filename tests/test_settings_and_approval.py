import asyncio

import pytest

from imagegen.approval import approve_candidate
from imagegen.auth import local_admin
from imagegen.errors import InvalidInput, UploadFailed
from imagegen.generation import run_generation, start_generation
from imagegen.history import revert_to
from imagegen.providers import default_provider
from imagegen.recipes import make_spec
from imagegen.records import Approval
from imagegen.review import approved_candidates
from imagegen.settings import Settings
from imagegen.storage.media import LocalMediaStore


def test_keys_are_secret_and_blank_keys_count_as_unset(monkeypatch):
    monkeypatch.setenv("IDEOGRAM_API_KEY", "ideo-very-secret")
    monkeypatch.setenv("REPLICATE_API_TOKEN", "   ")
    settings = Settings()
    assert "ideo-very-secret" not in repr(settings) and "ideo-very-secret" not in str(settings.model_dump())
    assert settings.ideogram_api_key.get_secret_value() == "ideo-very-secret"
    assert settings.replicate_api_token is None


def test_settings_come_from_dotenv_and_streamlit_secrets(isolated, monkeypatch):
    monkeypatch.delenv("IMAGEGEN_DATA_DIR")
    (isolated / ".env").write_text("IMAGEGEN_DATA_DIR=from-dotenv\n")
    (isolated / ".streamlit").mkdir()
    (isolated / ".streamlit" / "secrets.toml").write_text('IDEOGRAM_API_KEY = "from-secrets"\nIMAGEGEN_DATA_DIR = "ignored"\n')
    settings = Settings()
    assert str(settings.data_dir) == "from-dotenv"
    assert settings.ideogram_api_key.get_secret_value() == "from-secrets"


def test_with_no_keys_the_default_provider_is_local():
    assert default_provider(Settings()) == "local"


def _candidate(ws, slug="pixel-poster"):
    spec = make_spec(ws, ws.get_agent(slug), provider="local", count=1, seed=9)
    gen_id = start_generation(ws, slug, spec)
    asyncio.run(run_generation(ws, gen_id))
    return ws.get_generation(gen_id).candidates[0]


def test_approval_records_who_what_and_the_recipe(ws):
    cand = _candidate(ws)
    approval = approve_candidate(ws, cand.id, actor=local_admin(ws.settings, "dana"))
    assert approval.approved_by == "dana" and approval.candidate_id == cand.id
    assert approval.spec["seed"] == 9
    assert ws.get_agent("pixel-poster").current_thumbnail == approval.upload_key
    assert ws.media.get(approval.upload_key) != ws.media.get(cand.image_key)  # normalised, not the raw candidate


def test_an_approval_records_its_uploads_size_and_format_and_a_revert_keeps_them(ws, monkeypatch):
    """What the upload is, read off the bytes stored, is recorded with the approval as it is made,
    so the History trail, `approve` and the export tell it without decoding the upload."""
    import io

    from PIL import Image

    monkeypatch.setenv("IMAGEGEN_UPLOAD_FORMAT", "JPEG")
    monkeypatch.setenv("IMAGEGEN_UPLOAD_MAX_WIDTH", "640")
    ws.settings = Settings()
    first = approve_candidate(ws, _candidate(ws).id)
    data = ws.media.get(first.upload_key)
    with Image.open(io.BytesIO(data)) as im:
        assert (first.width, first.height, first.format, first.byte_size) == (*im.size, "JPEG", len(data)) == (640, 360, "JPEG", len(data))
    assert first.size_label == f"640x360 JPEG, {len(data) / 1000:,.0f} kB"
    approve_candidate(ws, _candidate(ws).id)
    back = revert_to(ws, first.id)
    assert (back.width, back.height, back.format, back.byte_size) == (640, 360, "JPEG", len(data))


class FullDisk(LocalMediaStore):
    """The disk at its edge: every write fails as a full disk would."""

    def put(self, data, image_format, **kw):
        raise OSError(28, "No space left on device")


def test_a_failed_upload_records_no_approval(ws):
    cand = _candidate(ws)
    ws.media = FullDisk(ws.media.root)
    with pytest.raises(UploadFailed, match="nothing was approved"):
        approve_candidate(ws, cand.id)
    with ws.session() as s:
        assert s.query(Approval).count() == 0
    assert ws.get_agent("pixel-poster").current_thumbnail is None


def test_only_a_finished_image_can_be_approved(ws):
    spec = make_spec(ws, ws.get_agent("ai"), provider="local", count=1, seed=1)
    gen_id = start_generation(ws, "ai", spec)
    with pytest.raises(InvalidInput, match="no image to approve"):
        approve_candidate(ws, ws.get_generation(gen_id).candidates[0].id)


def test_of_two_approvals_of_the_same_bytes_only_the_newest_is_the_current_thumbnail(ws):
    # A redraw from the same seed makes the same image: both approvals upload the same file.
    first, again = _candidate(ws), _candidate(ws)
    assert first.id != again.id and first.image_key == again.image_key
    earlier = approve_candidate(ws, first.id)
    approve_candidate(ws, again.id)
    assert approved_candidates(ws, [first.id, again.id]) == {first.id: False, again.id: True}
    revert_to(ws, earlier.id)  # the first one is current again, and the card says so
    assert approved_candidates(ws, [first.id, again.id]) == {first.id: True, again.id: False}
