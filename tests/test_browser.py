"""One real browser run: Debian's Chromium, driven by Playwright, against `streamlit run app.py`."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


def _chromium_or_skip():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("IMAGEGEN_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required here (IMAGEGEN_REQUIRE_BROWSER=1) but /usr/bin/chromium is missing.")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(isolated):
    _chromium_or_skip()
    port = _free_port()
    env = {**os.environ, "IMAGEGEN_DATA_DIR": str(isolated / "data"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            raise AssertionError("streamlit did not start within 60 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_pick_generate_and_approve_in_chromium(server, isolated):
    from playwright.sync_api import expect, sync_playwright

    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(server)
            search = page.get_by_label("Search")
            search.fill("podcast")
            search.press("Enter")
            expect(page.get_by_role("heading", name="Podcast Clipper")).to_be_visible()

            page.get_by_role("button", name="Generate").click()
            # Approve buttons appear on a card only once its image has landed.
            expect(page.get_by_role("button", name="Approve")).to_have_count(4, timeout=30_000)
            expect(page.locator("img")).to_have_count(4)
            page.screenshot(path=str(artifacts / "studio-candidates.png"), full_page=True)

            page.get_by_role("button", name="Approve").first.click()
            page.get_by_role("button", name="Approve and upload").click()
            expect(page.get_by_text("Approved candidate #1.")).to_be_visible()
            expect(page.get_by_text("No thumbnail yet.")).to_have_count(0)
            page.screenshot(path=str(artifacts / "studio-approved.png"), full_page=True)

            # Dropping a generated image on the studio recalls its recipe.
            from imagegen.images import read_recipe

            candidate = next(p for p in sorted((isolated / "data" / "media").rglob("*.png")) if read_recipe(p.read_bytes()))
            page.get_by_text("Recall a recipe from an image").click()
            page.locator("input[type=file]").set_input_files(str(candidate))
            expect(page.get_by_text("Recipe recalled (local, seed")).to_be_visible()
            expect(page.get_by_label("Seed", exact=True)).to_be_visible()  # the recalled seed is fixed

            page.goto(f"{server}/?kiosk=1")
            expect(page.get_by_role("heading", name="Showcase")).to_be_visible()
            expect(page.get_by_text("Page not found")).to_have_count(0)
            expect(page.get_by_role("link", name="Studio")).to_have_count(0)  # no navigation in kiosk mode
            expect(page.get_by_text("Podcast Clipper", exact=True)).to_have_count(2)  # under Creative and under Social
            page.screenshot(path=str(artifacts / "showcase.png"), full_page=True)
        except BaseException:
            page.screenshot(path=str(artifacts / "studio-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert list((isolated / "data" / "media").rglob("*.png"))
