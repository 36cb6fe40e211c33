"""Sign-in and roles page by page, through AppTest with `at.user` (Streamlit's own sign-in, seeded)."""

from __future__ import annotations

import re

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from ui.text import literal

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-cookie-secret-not-real",
        "client_id": "thumbnail-studio", "client_secret": "test-client-secret-not-real",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
PAGES = ("studio", "history", "experiments", "batch", "catalog", "showcase")
# Which pages each role may open.
ALLOWED = {
    "viewer": {"history", "showcase"},
    "curator": {"studio", "history", "experiments", "batch", "showcase"},
    "admin": set(PAGES),
}


@pytest.fixture
def team(isolated, monkeypatch):
    monkeypatch.setenv("IMAGEGEN_ADMINS", "ada@example.test")
    monkeypatch.setenv("IMAGEGEN_CURATORS", "@curators.test")
    monkeypatch.setenv("IMAGEGEN_VIEWERS", "vic@example.test")
    st.cache_resource.clear()
    st.cache_data.clear()

    def visit(page: str | None, email: str | None, query: dict | None = None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": True, "email": email} if email else {"is_logged_in": False}
        for key, value in (query or {}).items():
            at.query_params[key] = value
        at.run()
        if page:
            at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
        return at

    yield visit
    st.cache_resource.clear()


def refused(at: AppTest) -> bool:
    return any("This page is for" in e.value for e in at.error)


@pytest.mark.parametrize("email,role", [("vic@example.test", "viewer"), ("cora@curators.test", "curator"), ("ada@example.test", "admin")])
def test_each_role_opens_exactly_its_pages(team, email, role):
    for page in PAGES:
        at = team(page, email)
        assert refused(at) == (page not in ALLOWED[role]), (role, page)
        assert at.sidebar.text[0].value == f"{email} · {role}"


def test_a_viewer_sees_no_generate_or_approve_and_no_revert(team):
    at = team("studio", "vic@example.test")
    assert refused(at) and not [b for b in at.button if b.key in ("generate",) or (b.key or "").startswith("approve_")]
    at = team("history", "vic@example.test")
    assert not refused(at) and not [b for b in at.button if (b.key or "").startswith("revert_")]


def test_not_signed_in_sees_only_a_sign_in_button(team):
    for page in PAGES:
        at = team(page, None)
        assert at.title[0].value == "Sign in" and [b.label for b in at.button] == ["Sign in"], page


def test_an_unlisted_person_gets_the_ask_an_admin_page(team):
    at = team("history", "stranger@elsewhere.test")
    assert at.title[0].value == "Ask an admin"
    assert "stranger@elsewhere.test" in at.text[0].value and [b.label for b in at.button] == ["Sign out"]


def test_kiosk_refuses_every_other_page_even_for_an_admin(team):
    at = team(None, "ada@example.test", {"kiosk": "1"})
    assert at.title[0].value == "Showcase"
    for page in PAGES[:-1]:
        at.switch_page(f"pages/{page}.py").run()
        assert any("kiosk mode" in e.value for e in at.error), page
        assert not at.button


def test_public_showcase_needs_no_sign_in_but_everything_else_does(team, monkeypatch):
    monkeypatch.setenv("IMAGEGEN_PUBLIC_SHOWCASE", "true")
    st.cache_resource.clear()
    assert team("showcase", None).title[0].value == "Showcase"
    assert team("studio", None).title[0].value == "Sign in"


def test_open_mode_is_one_local_admin_with_a_note(app):
    assert any(c.value == "Not signed in: local mode." for c in app.sidebar.caption)
    app.switch_page("pages/catalog.py").run()
    assert not refused(app) and app.title[0].value == "Catalog"


def test_open_mode_server_listens_on_this_machine_only():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"


def test_a_hostile_agent_name_never_becomes_a_link_on_the_showcase(app):
    from imagegen.approval import approve_candidate
    from imagegen.catalog import import_catalog
    from imagegen.settings import Settings
    from imagegen.jobs import open_workspace
    from tests.test_pages import generated

    hostile = "[click me](http://evil.test/x) <b>bold</b>"
    ws = open_workspace(Settings())
    import_catalog(ws, [{"slug": "evil", "name": hostile, "sub_heading": "**loud** :red[red]", "categories": ["[c](http://evil.test)"]}])
    approve_candidate(ws, generated(ws, "evil", 1, count=1).candidates[0].id)
    app.switch_page("pages/showcase.py").run()
    rendered = [m.value for m in app.markdown] + [s.value for s in app.subheader]
    unescaped = re.compile(r"(?<!\\)(\]\(http|<b>)")  # a link or a tag that Markdown would act on
    assert not any(unescaped.search(v) for v in rendered), rendered
    assert f"**{literal(hostile)}**" in rendered  # still there, readable, as text


def test_history_shows_a_failed_publish_and_an_admin_retries_it(team, monkeypatch):
    from imagegen.approval import approve_candidate
    from imagegen.publish import publications
    from imagegen.records import PublishStatus
    from imagegen.settings import Settings
    from imagegen.jobs import open_workspace
    from tests.test_pages import generated
    from tests.test_publish import MotoS3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-access-key")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("IMAGEGEN_PUBLISH_URL", "s3://thumbs/approved")
    moto = MotoS3(monkeypatch)
    moto.start()
    moto.client().create_bucket(Bucket="thumbs")
    moto.stop()  # the object store is down when the curator approves
    ws = open_workspace(Settings())
    approval = approve_candidate(ws, generated(ws, "ai", 1, count=1).candidates[0].id)
    try:
        viewer = team("history", VIEWER_EMAIL)
        assert any("Publishing failed" in m.value for m in viewer.markdown)
        assert not [b for b in viewer.button if (b.key or "").startswith("retry_publish_")]

        moto.start()  # back up
        admin = team("history", "ada@example.test")
        admin.button(key=f"retry_publish_{approval.id}").click().run()
        assert not admin.exception
        assert any("Published" in m.value for m in admin.markdown)
        assert publications(ws, [approval.id])[approval.id].status is PublishStatus.PUBLISHED
        assert len(moto.client().list_objects_v2(Bucket="thumbs")["Contents"]) == 1
    finally:
        moto.stop()
        from moto.backends import get_backend

        for backend in get_backend("s3").values():
            backend.reset()


VIEWER_EMAIL = "vic@example.test"


def test_a_hostile_agent_text_stays_text_in_the_studio(app):
    from imagegen.catalog import import_catalog
    from imagegen.settings import Settings
    from imagegen.jobs import open_workspace

    import_catalog(open_workspace(Settings()), [{"slug": "evil", "name": "[click me](http://evil.test/x)",
                                            "sub_heading": "<img src=x onerror=alert(1)>", "categories": ["a](http://evil.test)"],
                                            "description": "**bold** [link](http://evil.test)"}])
    app.run()
    app.text_input(key="agent_query").input("evil").run()
    assert not app.exception
    rendered = [e.value for e in (*app.title, *app.caption, *app.markdown)]
    unescaped = re.compile(r"(?<!\\)(\]\(http|<img)")  # a link or a tag that Markdown would act on
    assert not any(unescaped.search(v) for v in rendered), rendered
    assert "click me" in app.title[0].value  # still readable
    assert "bold link" in [t.value for t in app.text]  # the description, cleaned, as plain text


def test_the_store_image_is_shown_as_now_in_the_store_and_left_to_the_browser(app):
    from imagegen.catalog import import_catalog
    from imagegen.settings import Settings
    from imagegen.jobs import open_workspace

    url = "https://media.store.test/agents/evil/current.png"  # nothing answers there: the server must not fetch it
    import_catalog(open_workspace(Settings()), [{"slug": "evil", "name": "Evil", "agent_image": url}])
    app.run()
    app.text_input(key="agent_query").input("evil").run()
    assert not app.exception
    images = [e for e in app.main if type(e).__name__ == "Image"]
    [shown] = [img for e in images for img in e.proto.imgs if img.caption == "now in the store"]
    assert shown.url == url  # passed to the browser as is


def test_the_studio_keeps_a_failed_publish_in_sight_with_retry(isolated, monkeypatch):
    from imagegen.approval import approve_candidate
    from imagegen.settings import Settings
    from imagegen.jobs import open_workspace
    from tests.test_pages import generated

    monkeypatch.setenv("IMAGEGEN_PUBLISH_URL", "autogpt-store")  # with no store configured: it fails
    ws = open_workspace(Settings())
    approve_candidate(ws, generated(ws, "ai", 1, count=1).candidates[0].id)
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.text_input(key="agent_query").input("ai").run()
    assert any("Publishing failed" in m.value for m in at.markdown)
    assert any("IMAGEGEN_STORE_API_URL" in t.value for t in at.text)
    assert [b.label for b in at.button if (b.key or "").startswith("retry_publish_")] == ["Retry"]


def test_pages_act_in_the_signed_in_persons_name(team):
    """The studio and History hand the signed-in person to the library, which records them."""
    from sqlalchemy import select

    from imagegen.records import Approval, Generation
    from imagegen.settings import Settings
    from imagegen.jobs import open_workspace
    from tests.test_studio_page import wait_until_landed

    def generate_and_approve():
        at = team("studio", "cora@curators.test")
        at.slider(key="count").set_value(1).run()
        at.button(key="generate").click().run()
        wait_until_landed(at)
        [b for b in at.button if b.label == "Approve"][0].click().run()
        at.button(key="confirm_approve").click().run()
        assert not at.exception

    generate_and_approve()
    generate_and_approve()
    ws = open_workspace(Settings())
    with ws.session() as s:
        first = s.scalar(select(Approval).order_by(Approval.id))
    at = team("history", "ada@example.test")  # on the same agent, the first in the list
    at.button(key=f"revert_{first.id}").click().run()
    assert not at.exception
    with ws.session() as s:
        assert s.scalars(select(Generation.created_by)).all() == ["cora@curators.test"] * 2
        assert s.scalars(select(Approval.approved_by).order_by(Approval.id)).all() == [
            "cora@curators.test", "cora@curators.test", "ada@example.test"]  # the last one is the revert
