"""The analyst interface in a real browser: Debian's chromium driven by pytest-playwright against the app served in
a thread (werkzeug, a temporary SQLite database with the built-in list, the job runner on). Each page is checked
with axe-core (no serious or critical violation) and photographed into docs/screenshots/ for the README.

Without /usr/bin/chromium these tests are skipped, except under CI=true, where that is a failure."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from werkzeug.serving import make_server

from screening import jobs, monitoring, monitoring_runner, store
from screening.db import dispose
from screening.listfile import load_list_file
from tests.conftest import IN_CI, ROOT, _key, make_app

pytestmark = [pytest.mark.browser,
              # pytest-base-url (a pytest-playwright dependency) defines its fixture the way pytest 9 deprecates
              pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods")]
CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# Each page is photographed on every run: into a temporary folder, or into the README's docs/screenshots/ with
# SCREENING_SCREENSHOTS=docs (`make screenshots`), so that a test run leaves the work tree as it was.
SHOTS = ROOT / "docs" / "screenshots" if os.environ.get("SCREENING_SCREENSHOTS") == "docs" else \
    Path(tempfile.gettempdir()) / f"screening-screenshots-{os.getpid()}"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1100, "height": 800}
TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's chromium, never a downloaded browser."""
    found = CHROMIUM if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if found is None:
        if IN_CI:
            pytest.fail(f"{CHROMIUM} not found; under CI=true the browser tests must run (make install gets it)")
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium): browser tests skipped")
    return {**browser_type_launch_args, "executable_path": found, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # bypass_csp: axe is injected as a script tag, which the interface's policy (script-src 'self') would refuse;
    # test_pages_keep_to_their_content_security_policy checks the pages with the policy in force.
    return {**browser_context_args, "viewport": VIEWPORT, "bypass_csp": True, "accept_downloads": True}


class Server:
    def __init__(self, url: str, keys: dict[str, str], alert_id: int):
        self.url, self.keys, self.alert_id = url, keys, alert_id

    def api(self, method: str, path: str, role: str = "admin", body: Any = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        request = urllib.request.Request(self.url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {self.keys[role]}",
                                                  "Content-Type": "application/json", **(headers or {})})
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our own server on 127.0.0.1
            return answer.status, dict(answer.headers), json.loads(answer.read() or b"null")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One app for the module: the built-in list, a monitored subject with an open alert, one key per role, the job
    runner polling often (a bulk upload is done within a second or two)."""
    home = tmp_path_factory.mktemp("ui-browser")
    app = make_app(f"sqlite:///{home / 'ui.db'}", JOB_POLL_SECONDS=0.2, JOBS_DIR=str(home / "jobs"))
    with app.extensions["db_sessionmaker"]() as session:
        store.publish_document(session, load_list_file(), actor="tests", action="load-list")
        monitoring.upsert_subjects(session, [(0, {"reference": "cust-4711", "name": "Zhu Hailun", "type": "person",
                                                  "birth_date": "1958", "country": "CN",
                                                  "meta": {"branch": "north"}})], actor="tests")
        session.commit()
    monitoring_runner.run_pending(app)
    from screening.monitoring_models import Alert

    with app.extensions["db_sessionmaker"]() as session:
        alert = session.query(Alert).filter(Alert.subject_reference == "cust-4711").first()
        assert alert is not None, "the monitoring run opens an alert for the designee"
        alert_id = alert.id
    keys = {role: _key(app, role, f"{role} desk") for role in ("screener", "analyst", "admin")}
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    jobs.start_runner(app)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield Server(f"http://127.0.0.1:{http.server_port}", keys, alert_id)
    finally:
        app.extensions["job_runner_stop"].set()
        http.shutdown()
        thread.join(timeout=10)
        dispose(app)


def sign_in(page: Any, server: Server, role: str) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url + "/ui/sign-in")
    page.get_by_label("API key").fill(server.keys[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/screen")


def accessible(page: Any) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                             nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"{page.url}: {bad}"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_sign_in_by_keyboard_and_screen_a_name(page: Any, server: Server) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url + "/ui/screen")  # no session: to the sign-in page, and back after it
    page.wait_for_url("**/ui/sign-in?next=/ui/screen")
    accessible(page)
    shot(page, "sign-in")
    page.keyboard.type(server.keys["screener"])  # the key field has the focus: a keyboard is enough
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/screen")
    page.get_by_label("Name", exact=True).fill("Chen Quan-guo")
    page.get_by_label("Type").select_option("person")
    page.get_by_label("Birth date").fill("1955")
    page.get_by_label("Country").fill("CN")
    page.get_by_role("button", name="Screen").click()
    match = page.locator("article.match").first
    assert "CHEN, Quanguo" in match.inner_text()
    assert match.locator(".badge").first.inner_text() == "designated"
    explanation = match.locator("details table").inner_text()
    assert "quanguo" in explanation and "exact" in explanation, explanation
    assert "birth date agrees" in match.inner_text()
    quote = match.locator("blockquote").first.inner_text()
    assert "Chen Quanguo" in quote, quote
    assert match.locator(".citations a").first.get_attribute("href").startswith("https://")
    accessible(page)
    shot(page, "screen")


def test_bulk_upload_to_download(page: Any, server: Server) -> None:
    sign_in(page, server, "screener")
    page.goto(server.url + "/ui/bulk")
    page.get_by_label("CSV file", exact=True).set_input_files({"name": "customers.csv", "mimeType": "text/csv",
                                                   "buffer": b"id,name\nc1,Chen Quanguo\nc2,Hikvision\nc3,Jane Roe\n"})
    page.locator("#id_column").fill("id")
    page.get_by_role("button", name="Upload and screen").click()
    page.wait_for_url("**/ui/jobs/*")
    download_link = page.locator("#download")
    download_link.wait_for(state="visible")  # the progress fragment is polled (htmx) until the job is done
    assert page.locator("#job-bar").get_attribute("value") == "3"
    accessible(page)
    shot(page, "bulk-job")
    with page.expect_download() as info:
        download_link.click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("id,name,match_count") and len(lines) == 4, text
    assert "chen-quanguo" in lines[1] and "hikvision" in lines[2], text
    page.goto(server.url + "/ui/bulk")
    assert page.get_by_role("link", name="Download CSV").count() >= 1
    accessible(page)


def test_decide_an_alert(page: Any, server: Server) -> None:
    sign_in(page, server, "analyst")
    page.get_by_role("link", name="Alerts").click()
    page.get_by_label("Status", exact=True).select_option("open")
    page.get_by_role("button", name="Filter").click()
    accessible(page)
    shot(page, "alerts")
    page.get_by_role("link", name=f"#{server.alert_id}").click()
    compare = page.locator(".compare").inner_text()
    assert "cust-4711" in compare and "ZHU, Hailun" in compare and "north" in compare, compare
    accessible(page)
    shot(page, "alert")
    page.get_by_label("Note").fill("Same name, birth year and country as the designee: escalated.")
    page.get_by_role("button", name="True match").click()
    status = page.get_by_role("status").inner_text()
    assert "true match" in status, status
    assert page.get_by_role("button", name="Reverse the decision").is_visible()
    accessible(page)


def test_admin_edit_with_a_stale_etag_is_refused(page: Any, server: Server) -> None:
    sign_in(page, server, "admin")
    page.goto(server.url + "/ui/entries?q=hu")
    accessible(page)
    shot(page, "list")
    page.goto(server.url + "/ui/entries/hu-lianhe")
    assert page.locator("h1").inner_text().startswith("HU")
    accessible(page)
    shot(page, "entry")
    page.get_by_role("link", name="Edit this entry").click()
    editor = page.locator("#entry")
    text = editor.input_value()
    # Meanwhile another admin changes the entry through the API (If-Match: the version it read).
    _, headers, entry = server.api("GET", "/v1/entries/hu-lianhe")
    entry["birth_places"] = (entry.get("birth_places") or []) + ["Changed by someone else"]
    status, _, _ = server.api("PUT", "/v1/entries/hu-lianhe", body=entry, headers={"If-Match": headers["ETag"]})
    assert status == 200
    editor.fill(text.replace("birth_places:", "birth_places:\n- My change", 1))
    page.get_by_role("button", name="Save as a new list version").click()
    alert = page.locator("#stale")
    assert "the list changed since you opened this form" in alert.inner_text(), alert.inner_text()
    accessible(page)
    shot(page, "edit-stale")
    page.goto(server.url + "/ui/versions")
    accessible(page)
    page.locator("ol.timeline a").first.click()
    assert "Changed by someone else" in page.locator("ins").first.inner_text()
    accessible(page)
    shot(page, "version-diff")
    page.goto(server.url + "/ui/audit?kind=list")
    assert "admin desk" in page.locator("table").inner_text()
    accessible(page)
    shot(page, "audit")
    page.goto(server.url + "/ui/import")
    accessible(page)


def test_sign_out(page: Any, server: Server) -> None:
    sign_in(page, server, "screener")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/sign-in?signed_out=1")
    assert "You are signed out" in page.get_by_role("status").inner_text()
    page.goto(server.url + "/ui/entries")
    page.wait_for_url("**/ui/sign-in?next=/ui/entries")


def test_phone_width_has_no_sideways_scrolling(page: Any, server: Server) -> None:
    sign_in(page, server, "admin")
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/ui/screen?name=Chen+Quanguo", "/ui/entries", f"/ui/alerts/{server.alert_id}"):
        page.goto(server.url + path)
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1] + 1, (path, width)
    accessible(page)


def test_pages_keep_to_their_content_security_policy(browser: Any, server: Server) -> None:
    """With the policy in force (no bypass), the pages load their own script and style, htmx runs, and the browser
    reports no violation."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        sign_in(page, server, "admin")
        for path in ("/ui/screen?name=Chen+Quanguo", "/ui/bulk", "/ui/alerts", "/ui/entries/chen-quanguo"):
            page.goto(server.url + path)
            assert page.evaluate("() => typeof window.htmx") == "object", path
            color = page.evaluate("() => getComputedStyle(document.querySelector('header.top')).backgroundColor")
            assert color == "rgb(11, 37, 69)", (path, color)  # the style sheet applied
        assert not violations, violations
    finally:
        context.close()
