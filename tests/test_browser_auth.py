"""Sign-in end to end: Chromium, `streamlit run app.py` with an [auth] section, and a real OpenID
Connect provider (oidc-provider-mock) on loopback. People sign in by typing their email as the
subject on the provider's form; the provider then reports it as the `email` claim."""

from __future__ import annotations

import os
import shutil
import threading

import pytest

from tests.conftest import ROOT
from tests.test_browser import CHROMIUM, _chromium_or_skip, _free_port, report_page_errors, streamlit_server

pytestmark = pytest.mark.browser

ADMIN, CURATOR, VIEWER, STRANGER = "ada@example.test", "cora@curators.test", "vic@example.test", "stranger@elsewhere.test"
BY_CLAIM = "gus@elsewhere.test"  # listed nowhere by email: a curator by the provider's `groups` claim


@pytest.fixture
def idp():
    """The identity provider on loopback, stopped at the end or after two minutes, whichever first."""
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(port=0) as server:
        watchdog = threading.Timer(120, server.shutdown)
        watchdog.daemon = True
        watchdog.start()
        yield f"http://localhost:{server.server_port}"
        watchdog.cancel()


@pytest.fixture
def team_server(isolated, idp):
    _chromium_or_skip()
    port = _free_port()
    app_url = f"http://127.0.0.1:{port}"
    run_dir = isolated / "run"
    (run_dir / ".streamlit").mkdir(parents=True)
    shutil.copy(ROOT / ".streamlit" / "config.toml", run_dir / ".streamlit" / "config.toml")
    (run_dir / ".streamlit" / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "{app_url}/oauth2callback"\n'
        'cookie_secret = "browser-test-cookie-secret-0123456789abcdef"\n'
        'client_id = "thumbnail-studio"\n'
        'client_secret = "browser-test-client-secret"\n'
        f'server_metadata_url = "{idp}/.well-known/openid-configuration"\n'
    )
    env = {**os.environ, "IMAGEGEN_DATA_DIR": str(isolated / "data"), "PYTHONPATH": str(ROOT),
           "IMAGEGEN_ADMINS": ADMIN, "IMAGEGEN_CURATORS": "@curators.test", "IMAGEGEN_VIEWERS": VIEWER, "IMAGEGEN_ROLE_CLAIM": "groups"}
    with streamlit_server(port, env, run_dir, log_name="streamlit-auth") as url:
        assert url == app_url
        yield app_url


def sign_in(browser, app_url: str, email: str):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = report_page_errors(context.new_page())
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=sub]").fill(email)  # the provider's own form
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app_url}/**")
    # A new session's first page is the slowest to settle; a loaded CI machine takes more than
    # expect's 5 s default (seen at load 8 on 2 cores), so wait as long as the page's own timeout.
    expect(page.get_by_text(email).first).to_be_visible(timeout=60_000)
    return page


def test_sign_in_as_viewer_curator_admin_and_unlisted_in_chromium(team_server, idp, isolated):
    import httpx
    from playwright.sync_api import expect, sync_playwright

    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                     "--disable-background-networking", "--disable-component-update", "--no-first-run"])
        page = None
        try:
            # Not signed in: nothing but a sign-in page, on every path.
            anon = browser.new_page()
            anon.goto(f"{team_server}/catalog")
            expect(anon.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
            expect(anon.get_by_role("heading", name="Catalog")).to_have_count(0)

            # A curator generates and approves; the approval records the curator's email.
            page = sign_in(browser, team_server, CURATOR)
            search = page.get_by_label("Search")
            search.fill("podcast")
            search.press("Enter")
            expect(page.get_by_role("heading", name="Podcast Clipper")).to_be_visible()
            page.get_by_role("button", name="Generate").click()
            expect(page.get_by_role("button", name="Approve")).to_have_count(4, timeout=30_000)
            page.get_by_role("button", name="Approve").first.click()
            page.get_by_role("button", name="Approve and upload").click()
            expect(page.get_by_text("Approved candidate #1.")).to_be_visible()
            page.screenshot(path=str(artifacts / "auth-curator-approved.png"), full_page=True)
            page.goto(f"{team_server}/catalog")
            expect(page.get_by_text("This page is for an admin")).to_be_visible()
            page.context.close()

            # A viewer sees no Generate or Approve, and is refused on /studio.
            page = sign_in(browser, team_server, VIEWER)
            expect(page.get_by_text("This page is for a curator")).to_be_visible()
            expect(page.get_by_role("button", name="Generate")).to_have_count(0)
            expect(page.get_by_role("button", name="Approve")).to_have_count(0)
            page.goto(f"{team_server}/showcase")
            expect(page.get_by_role("heading", name="Showcase")).to_be_visible()
            page.screenshot(path=str(artifacts / "auth-viewer-showcase.png"), full_page=True)
            page.context.close()

            # An admin opens the catalog; in kiosk mode every other page is refused.
            page = sign_in(browser, team_server, ADMIN)
            page.goto(f"{team_server}/catalog")
            expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
            page.goto(f"{team_server}/studio?kiosk=1")
            expect(page.get_by_text("kiosk mode")).to_be_visible()
            expect(page.get_by_role("button", name="Generate")).to_have_count(0)
            page.context.close()

            # Someone signed in but unlisted is asked to see an admin.
            page = sign_in(browser, team_server, STRANGER)
            expect(page.get_by_role("heading", name="Ask an admin")).to_be_visible()
            expect(page.get_by_role("button", name="Generate")).to_have_count(0)
            page.screenshot(path=str(artifacts / "auth-unlisted.png"), full_page=True)
            page.context.close()

            # Listed nowhere by email, but the provider's token says `groups: [staff, curator]` and
            # IMAGEGEN_ROLE_CLAIM=groups: a curator, with the studio's Generate.
            httpx.put(f"{idp}/users/{BY_CLAIM}", json={"email": BY_CLAIM, "groups": ["staff", "curator"]}, timeout=10).raise_for_status()
            page = sign_in(browser, team_server, BY_CLAIM)
            expect(page.get_by_role("button", name="Generate")).to_be_visible()
            expect(page.get_by_role("heading", name="Ask an admin")).to_have_count(0)
            page.screenshot(path=str(artifacts / "auth-curator-by-claim.png"), full_page=True)
        except BaseException:
            if page is not None and not page.is_closed():
                page.screenshot(path=str(artifacts / "auth-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    from sqlalchemy import select

    from imagegen.records import Approval, Generation
    from imagegen.settings import Settings
    from imagegen.jobs import open_workspace

    ws = open_workspace(Settings())  # the same database as the server's, whichever backend
    with ws.session() as s:
        assert s.scalars(select(Approval.approved_by)).all() == [CURATOR]
        assert set(s.scalars(select(Generation.created_by))) == {CURATOR}
