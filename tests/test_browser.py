"""One real browser run: Debian's Chromium, driven by Playwright, against `streamlit run app.py`."""

import contextlib
import os
import re
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


@contextlib.contextmanager
def streamlit_server(port: int, env: dict, cwd, log_name: str = "streamlit"):
    """`streamlit run app.py` on 127.0.0.1:`port`, healthy within 60 s, stopped on exit.

    The server's output goes to artifacts/<log_name>.log: a pipe nobody reads fills up after
    64 KiB of log lines and then freezes the server mid-test."""
    log_path = ROOT / "artifacts" / f"{log_name}.log"
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],  # a test server never reloads its source
        cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
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
            proc.wait(timeout=20)
        log.close()


@pytest.fixture
def server(isolated):
    _chromium_or_skip()
    env = {**os.environ, "IMAGEGEN_DATA_DIR": str(isolated / "data"), "PYTHONPATH": str(ROOT)}
    with streamlit_server(_free_port(), env, ROOT) as url:
        yield url


def _launch(pw):
    return pw.chromium.launch(
        executable_path=CHROMIUM,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run"],
    )


def report_page_errors(page):
    """A page that goes blank has usually thrown: its errors and its own error lines, on stderr
    (shown with a failing test), so the failure says why."""
    import sys

    page.on("pageerror", lambda exc: print(f"page error: {exc}", file=sys.stderr))
    page.on("console", lambda msg: msg.type == "error" and print(f"page console: {msg.text}", file=sys.stderr))
    page.on("crash", lambda _: print("page crashed", file=sys.stderr))
    return page


def _select(page, label, option):
    """Pick an option in a Streamlit selectbox by its label, as a curator would: a rerun still
    redrawing the page after the previous change can close the list, and then it is opened again."""
    from playwright.sync_api import Error, expect

    box = page.get_by_role("combobox", name=label)
    for attempt in range(3):
        try:
            box.click()
            box.fill(option)
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            expect(box).to_have_value(option, timeout=10_000)
            return
        except (Error, AssertionError):
            if attempt == 2:
                raise
            page.keyboard.press("Escape")


def _after_a_run(page, action):
    """Do `action` and wait until the script run it causes has ended: a button in a fragment
    clicked while the whole page is being run asks for a fragment run that Streamlit can drop."""
    page.evaluate("""() => {
        const app = document.querySelector("[data-testid=stApp]");
        window.__runsEnded = 0;
        window.__runObserver?.disconnect();
        window.__runObserver = new MutationObserver((records) => {
            window.__runsEnded += records.filter((r) => r.oldValue === "running").length;
        });
        window.__runObserver.observe(app, {attributes: true, attributeOldValue: true, attributeFilter: ["data-test-script-state"]});
    }""")
    action()
    page.wait_for_function("""() => window.__runsEnded > 0
        && document.querySelector("[data-testid=stApp]").dataset.testScriptState === "notRunning" """)


def _cut_labels(page) -> list[str]:
    """The visible buttons whose label the browser shortened with an ellipsis ("V…" for View).
    An icon's ligature ("add") is wider than its glyph: icons are not labels."""
    return page.evaluate("""() => [...document.querySelectorAll("button")]
        .filter((b) => b.offsetParent !== null)
        .filter((b) => [...b.querySelectorAll("*")].some((e) => !e.closest("[data-testid*=Icon]")
            && e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1))
        .map((b) => b.innerText)""")


def _settled(page):
    """Wait until the app has run no script for 0.3 s (Streamlit's own marker on stApp), as a person
    would before the next click. One run can follow another at once (a dialog's or a fragment's
    `st.rerun()`), and a click on a card still drawn by the run before can be lost: in CI a Select
    ticked while the picker's relabelling run was still drawing the cards came back unticked."""
    page.evaluate("""() => {
        if (window.__runWatch) return;
        const app = document.querySelector("[data-testid=stApp]");
        window.__runChanged = performance.now();
        window.__runChanges = 0;
        window.__runWatch = new MutationObserver((records) => {
            window.__runChanged = performance.now();
            window.__runChanges += records.length;
        });
        window.__runWatch.observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
    }""")
    page.wait_for_function("""() => document.querySelector("[data-testid=stApp]").dataset.testScriptState === "notRunning"
        && performance.now() - window.__runChanged > 300""", polling=50)


def _press(page, key):
    """Press a key on a settled page, then wait for the run it started to end. The next key is not
    pressed before that: in CI → and S pressed 20 ms apart made one run, which moved the focus and
    starred nothing."""
    _settled(page)
    before = page.evaluate("window.__runChanges")
    page.keyboard.press(key)
    page.wait_for_function(f"""() => window.__runChanges > {before}
        && document.querySelector("[data-testid=stApp]").dataset.testScriptState === "notRunning" """, polling=50)


def test_a_curators_day_in_chromium(server, isolated):
    from playwright.sync_api import expect, sync_playwright

    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = _launch(pw)
        page = report_page_errors(browser.new_page(viewport={"width": 1400, "height": 1000}))
        page.set_default_timeout(60_000)
        # Offline by default: the page asks nothing of the internet (a `:material/...:` page
        # icon made the browser fetch the tab's icon from fonts.gstatic.com on every page).
        outside: list[str] = []
        page.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:")) else outside.append(r.url))
        try:
            page.goto(server)
            search = page.get_by_label("Search")
            search.fill("sql")
            search.press("Enter")
            expect(page.get_by_role("heading", name="SQL Sherpa")).to_be_visible()
            _select(page, "Palette", "EMBER")
            _select(page, "Aspect ratio", "1x1")

            clicked = time.monotonic()
            page.get_by_role("button", name="Generate").click()
            # Approve buttons appear on a card only once its image has landed. (Cancel is there
            # while anything runs; the local renderer is too quick to see it: an AppTest pins it.)
            expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(4, timeout=30_000)
            print(f"\nbrowser: 4 local candidates shown {(time.monotonic() - clicked) * 1000:.0f} ms after Generate (shared machine)")
            expect(page).to_have_url(f"{server}/?agent=sql-sherpa&generation=1")
            page.screenshot(path=str(artifacts / "studio.png"), full_page=True)
            assert _cut_labels(page) == []  # "Reset to tem…" was cut short at this width

            # Approve, then change the palette: the studio stays on the agent.
            page.get_by_role("button", name="Approve", exact=True).first.click()
            page.get_by_role("button", name="Approve and upload").click()
            expect(page.get_by_text("Approved candidate #1.")).to_be_visible()
            _select(page, "Palette", "JUNGLE")
            expect(page.get_by_role("heading", name="SQL Sherpa")).to_be_visible()
            expect(page.get_by_text("No thumbnail yet.")).to_have_count(0)

            # A refresh restores the agent, the board and the recipe it was made with.
            page.reload()
            expect(page.get_by_role("heading", name="SQL Sherpa")).to_be_visible()
            expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(4)
            expect(page.locator(".st-key-palette_name input")).to_have_value("EMBER")
            expect(page.locator(".st-key-aspect input")).to_have_value("1x1")

            # Compare two side by side.
            page.get_by_text("Compare", exact=True).nth(0).click()
            page.get_by_text("Compare", exact=True).nth(1).click()
            page.get_by_role("button", name="Compare 2 side by side").click()
            expect(page.get_by_text("Before / after")).to_be_visible()
            page.wait_for_timeout(500)
            page.screenshot(path=str(artifacts / "compare.png"))
            page.keyboard.press("Escape")
            expect(page.get_by_text("Before / after")).to_have_count(0)

            # The lightbox, driven by keys: → moves, S stars.
            page.get_by_role("button", name="View").first.click()
            expect(page.get_by_text("· 1 of 4")).to_be_visible()
            page.wait_for_function("() => !!window.__imagegenKeysListener")  # the review keys are attached
            page.keyboard.press("ArrowRight")
            expect(page.get_by_text("· 2 of 4")).to_be_visible()
            page.keyboard.press("s")
            expect(page.get_by_text("2 of 4 · ★ starred")).to_be_visible()
            page.screenshot(path=str(artifacts / "lightbox.png"))
            _after_a_run(page, lambda: page.keyboard.press("Escape"))  # closing reruns the page; a card click now would be lost

            # Reject on a card folds it away.
            page.get_by_role("button", name="Reject").last.click()
            expect(page.get_by_text("Rejected (1)")).to_be_visible()

            # A no-key CLI attempt leaves the studio's board untouched.
            env = {**os.environ, "IMAGEGEN_DATA_DIR": str(isolated / "data"), "PYTHONPATH": str(ROOT)}
            env.pop("IDEOGRAM_API_KEY", None)
            cli = subprocess.run([sys.executable, "-m", "imagegen", "generate", "--agent", "sql-sherpa", "--provider", "ideogram",
                                  "--out", str(isolated / "o")], capture_output=True, text=True, env=env, timeout=60)
            assert cli.returncode == 1 and cli.stderr.startswith("error: The ideogram provider needs an API key")
            page.goto(f"{server}/?agent=sql-sherpa")
            expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(3)  # the 4th is folded away
            expect(page.get_by_text("Rejected (1)")).to_be_visible()

            # Batch: bulk approve with one confirmation.
            page.get_by_role("link", name="Batch").click()
            page.get_by_text("A list of slugs", exact=True).click()
            # Typed key by key: the review keys (attached since the lightbox) leave text fields alone.
            page.get_by_label("Slugs, comma-separated").press_sequentially("ai, lingo-bridge")
            expect(page.get_by_label("Slugs, comma-separated")).to_have_value("ai, lingo-bridge")
            page.get_by_label("Slugs, comma-separated").press("Enter")
            expect(page.get_by_text("2 agents, 4 images")).to_be_visible()  # the rerun is done: a click now is not lost
            page.get_by_role("button", name="Start batch").click()
            expect(page.get_by_text("2 of 2 agents · done")).to_be_visible(timeout=60_000)
            # The picker relabels on the full rerun that follows the last agent, and then the page stops
            # polling: the selections below are not made while the page is being redrawn.
            expect(page.get_by_role("combobox", name="Batch")).to_have_value(re.compile(r"· done$"))
            for box, selected in ((0, 1), (2, 2)):  # the first candidate of each agent (two each)
                _settled(page)
                page.get_by_text("Select", exact=True).nth(box).click()
                expect(page.get_by_role("checkbox", name="Select").nth(box)).to_be_checked()
                expect(page.get_by_role("button", name=f"Approve the selected ({selected})")).to_be_visible()
            page.get_by_role("button", name="Approve the selected (2)").click()
            page.get_by_role("button", name="Approve all of them").click()
            expect(page.get_by_text("Approved 2 candidates.")).to_be_visible()
            # Review from the keyboard: → moves the focus, S stars, X rejects, A approves the focused one.
            # Each key is pressed on a settled page: a button clicked while the whole page is still
            # being run (here, after the dialog) asks for a fragment run that Streamlit can drop.
            _settled(page)
            starred = page.get_by_text("Starred", exact=True).count()  # the Show filter's option, and any badge
            expect(page.get_by_text("(1 of 4) · keys")).to_be_visible()  # review starts on the first card
            _press(page, "ArrowRight")
            expect(page.get_by_text("(2 of 4) · keys")).to_be_visible()
            _press(page, "s")
            expect(page.get_by_text("Starred", exact=True)).to_have_count(starred + 1)
            _press(page, "x")
            expect(page.get_by_text("Rejected", exact=True)).to_have_count(1)
            expect(page.get_by_text("Starred", exact=True)).to_have_count(starred)
            _press(page, "a")
            expect(page.get_by_text("Approved #", exact=False)).to_be_visible()
            # The message shows before the cards below it are redrawn: a shot taken then mixes old and new cards.
            page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for()
            page.screenshot(path=str(artifacts / "batch.png"), full_page=True)
            # With the keyboard bar on screen, letters typed into a field are text, not review keys.
            page.get_by_text("New batch").click()
            page.get_by_label("Slugs, comma-separated").fill("")
            page.get_by_label("Slugs, comma-separated").press_sequentially("sax")
            expect(page.get_by_label("Slugs, comma-separated")).to_have_value("sax")

            page.goto(f"{server}/?kiosk=1")
            expect(page.get_by_role("heading", name="Showcase")).to_be_visible()
            expect(page.get_by_text("Page not found")).to_have_count(0)
            expect(page.get_by_role("link", name="Studio")).to_have_count(0)  # no navigation in kiosk mode
            expect(page.get_by_text("SQL Sherpa", exact=True)).to_have_count(1)  # each agent once
            page.wait_for_timeout(500)
            page.screenshot(path=str(artifacts / "showcase.png"), full_page=True)
            assert outside == []
        except BaseException:
            page.screenshot(path=str(artifacts / "studio-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def test_recall_a_recipe_from_an_image_in_chromium(server, isolated):
    from playwright.sync_api import expect, sync_playwright

    from imagegen.images import read_recipe

    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = _launch(pw)
        page = report_page_errors(browser.new_page(viewport={"width": 1280, "height": 1000}))
        page.set_default_timeout(60_000)
        try:
            page.goto(server)
            page.get_by_role("button", name="Generate").click()
            expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(4, timeout=30_000)
            candidate = next(p for p in sorted((isolated / "data" / "media").rglob("*.png")) if read_recipe(p.read_bytes()))
            page.get_by_text("Recall a recipe from an image").click()
            page.locator(".st-key-recall_upload input[type=file]").set_input_files(str(candidate))
            expect(page.get_by_text("Recipe recalled (local, seed")).to_be_visible()
            expect(page.get_by_label("Seed", exact=True)).to_be_visible()  # the recalled seed is fixed

            # The curator's own file becomes a candidate on the board.
            page.get_by_text("Use your own image").click()
            page.locator(".st-key-own_image input[type=file]").set_input_files(str(candidate))
            expect(page.get_by_text("#5 · your own image")).to_be_visible()
            expect(page.get_by_role("button", name="Reroll").last).to_be_disabled()  # no recipe to reroll

            # Reroll puts a new card in the first one's place.
            settled = page.locator("[data-testid=stApp][data-test-script-state=notRunning]")
            settled.wait_for()
            page.get_by_role("button", name="Reroll").first.click()
            # .first: while the script runs, the card drawn before can still be on screen beside the new one
            expect(page.get_by_text(re.compile(r"^#6 · seed \d+$")).first).to_be_visible()
            expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(5, timeout=30_000)

            # The lightbox: the candidate on a store card, then Vary makes a new board near it, as many
            # as its recipe made (the second card, #2, is from the first run of 4).
            settled.wait_for()
            page.get_by_role("button", name="View").nth(1).click()
            page.get_by_text("See it in the store").click()
            expect(page.get_by_text("Outlined: this candidate, at the store's card size")).to_be_visible()
            page.screenshot(path=str(artifacts / "store-card.png"))
            settled.wait_for()
            page.get_by_role("dialog").get_by_role("button", name="Vary").click()
            expect(page.get_by_text(re.compile(r"· a variation of #2$"))).to_have_count(4, timeout=30_000)
            page.screenshot(path=str(artifacts / "vary.png"), full_page=True)
            assert _cut_labels(page) == []  # at 1280 px each card's View, Reroll, Star and Reject read "V…", "R…"
        except BaseException:
            page.screenshot(path=str(artifacts / "recall-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def test_quick_clicks_on_a_board_never_blank_the_page(server):
    """Ticking Compare on the cards as fast as a curator can click. Each click reruns the grid's
    fragment, and a run that starts before the last one's output has reached the browser drops
    that output. Streamlit 1.67 keeps the elements of it it had sent as references to the
    browser's cache (every card's thumbnail, a data URL of more than 10 kB), and the page threw
    "Cannot set a node at a delta path" and went blank: within 12 to 38 s of such clicks on a
    busy 2-core machine, and twice in CI. The app's config turns those references off."""
    from playwright.sync_api import expect, sync_playwright
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    by_reference, errors = [], []

    def received(payload):
        if isinstance(payload, bytes):
            msg = ForwardMsg()
            msg.ParseFromString(payload)
            if msg.WhichOneof("type") == "ref_hash":
                by_reference.append(list(msg.metadata.delta_path))

    with sync_playwright() as pw:
        browser = _launch(pw)
        page = report_page_errors(browser.new_page(viewport={"width": 1400, "height": 1000}))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("websocket", lambda ws: ws.on("framereceived", received))
        page.set_default_timeout(30_000)
        try:
            page.goto(f"{server}/?agent=sql-sherpa")
            page.get_by_role("button", name="Generate").click()
            expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(4, timeout=30_000)
            expect(page.get_by_role("button", name="Generate")).to_be_enabled(timeout=30_000)  # the page's run after the last card
            labels = page.get_by_text("Compare", exact=True)
            for click in range(60):  # as fast as the page takes them; a click that lands mid-redraw can miss
                labels.nth(click % 4).click()
            # The page still answers: once it settles, the button counts the boxes the page shows ticked.
            page.wait_for_function("""() => {
                const ticked = [...document.querySelectorAll("input[type=checkbox][aria-label=Compare]")].filter((b) => b.checked).length;
                const button = [...document.querySelectorAll("button")].find((b) => b.innerText.includes("side by side"));
                return ticked === 0 ? !button : !!button && button.innerText.includes(`Compare ${ticked} side by side`);
            }""", timeout=30_000)
            assert errors == []
            assert by_reference == [], f"{len(by_reference)} elements were sent as references, e.g. at {by_reference[0]}"
        finally:
            page.screenshot(path=str(ROOT / "artifacts" / "quick-clicks.png"), full_page=True)
            browser.close()


def test_a_page_opened_by_its_link_on_a_fresh_server_runs_through_the_apps_navigation(server):
    """Measured: on a server no one has opened `/` on yet, a link to /history ran pages/history.py
    alone (Streamlit's old multipage mode, set off by the `pages/` folder): the sidebar listed the
    page files, `app` among them, in a narrow layout, and kept doing so for every new tab until
    someone opened `/`."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = report_page_errors(browser.new_page(viewport={"width": 1400, "height": 900}))
            page.goto(f"{server}/history")
            expect(page.get_by_role("heading", name="History")).to_be_visible(timeout=60_000)
            nav = page.get_by_test_id("stSidebarNav")
            expect(nav.get_by_role("link", name="Studio", exact=True)).to_be_visible(timeout=20_000)
            expect(nav.get_by_role("link", name="History", exact=True)).to_be_visible()
            expect(nav.get_by_role("link", name="app", exact=True)).to_have_count(0)
            expect(page).to_have_url(re.compile(r"/history$"))  # the page asked for, not the studio
            expect(page.get_by_role("combobox", name="Agent")).to_be_visible()
            page.screenshot(path=str(ROOT / "artifacts" / "history-by-link.png"), full_page=True)
        finally:
            browser.close()
