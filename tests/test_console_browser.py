"""The console in a real browser: Debian's chromium, driven by playwright, against a real `assistant serve`
with the demo data, clicking through each page as an agent and a support lead would.

Screenshots of each page go to ``$ASSISTANT_SCREENSHOTS`` (``make screenshots`` writes docs/screenshots).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import demo_server

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WAIT_MS = 30_000

if not CHROMIUM.exists():
    reason = f"no browser at {CHROMIUM}: `make test` installs Debian's chromium where apt-get may run"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
expect.set_options(timeout=WAIT_MS)

CHECKS = (Path(__file__).parent / "a11y_checks.js").read_text()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console-data")


@pytest.fixture(scope="module")
def console(data_dir: Path) -> Iterator[tuple[str, str]]:
    with demo_server(data_dir) as base:
        yield base, json.loads((data_dir / "demo-credentials.json").read_text())["api_key"]


@pytest.fixture(scope="module")
def portal_key(console: tuple[str, str], data_dir: Path) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "keys", "create", "--data-dir", str(data_dir), "--name", "portal",
         "--role", "portal"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return re.search(r"sda_[\w-]+", created.stdout).group(0)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, console: tuple[str, str]) -> Iterator[Any]:
    base, _ = console
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=base)
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    elsewhere: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    # A refused request is the browser's own log line; what the page does with it is what the tests check.
    opened.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    opened.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(("data:", base, base.replace("http", "ws")))
            else elsewhere.append(request.url)
        ),
    )
    yield opened
    context.close()
    assert not errors, errors
    assert not elsewhere, f"the console asked for something outside the service: {elsewhere}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("ASSISTANT_SCREENSHOTS")
    directory = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def sign_in(page: Any, key: str, where: str = "/console/agent") -> None:
    """With the keyboard only: the key field has the focus; Enter submits."""
    page.goto(where)
    page.wait_for_url("**/console/sign-in**")
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{where}**")


def kpi_period() -> str:
    today = datetime.now(UTC).date()
    return f"from={today - timedelta(days=6)}&to={today}&group_by=department&hours=business"


def solved_today(page: Any) -> tuple[int, int]:
    """The 'tickets solved' tile and the volume chart's last day, as the page shows them."""
    page.goto(f"/console/kpis?{kpi_period()}")
    page.wait_for_selector("#chart-volume svg")
    tile = int(page.inner_text("[data-kpi=solved] .value"))
    last_day = page.locator("#chart-volume tbody tr").last
    return tile, int(last_day.locator("td").nth(1).text_content())


def test_route_suggest_accept_solve_and_see_the_kpis_move(page: Any, console: tuple[str, str], shots: Path) -> None:
    base, key = console
    sign_in(page, key)
    solved_before, chart_before = solved_today(page)
    page.screenshot(path=str(shots / "kpi-dashboard.png"), full_page=True)

    page.goto("/console/agent")
    # The demo inbox is in the queue, routed; opening a ticket shows its decision and alternatives.
    page.get_by_role("button", name=re.compile("Charged twice for order A77120")).click()
    page.wait_for_selector("[data-testid=department]")
    assert page.inner_text("#ticket-title") == "Charged twice for order A77120"
    assert page.locator("#decision .alternatives li").count() >= 1
    assert page.locator("#decision meter").get_attribute("value")

    # A call comes in: the agent opens a ticket from the conversation and it is routed at once.
    page.get_by_text("New ticket from a conversation").click()
    page.fill("#new-subject", "Blender jug cracked")
    page.fill("#new-body", "The blender arrived today and the glass jug is cracked right through.")
    page.get_by_role("button", name="Open ticket").click()
    expect(page.locator("#ticket-title")).to_have_text("Blender jug cracked")
    ticket_id = int(re.search(r"#(\d+)", page.inner_text("#ticket-meta")).group(1))  # type: ignore[union-attr]
    assert page.inner_text("[data-testid=department]")

    # Suggestions arrive over the WebSocket, and follow the conversation as it grows.
    page.wait_for_selector("#suggestions [data-action]")
    expect(page.locator("#live-status")).to_have_text(re.compile("^Suggestions updated"))
    first = page.inner_text("#suggestions")
    page.locator("#conversation").press("End")
    page.locator("#conversation").type(" Actually I would rather send it back and get my money refunded.", delay=5)
    expect(page.locator("#suggestions")).not_to_have_text(first)
    expect(page.locator("#live-status")).to_have_text(re.compile("^Suggestions updated"))

    # Accepting an action records the verdict and ticks it in the solve form.
    action = page.locator("#suggestions [data-action]").first
    name = action.get_attribute("data-action")
    action.get_by_role("button", name=re.compile("^Accept")).click()
    page.wait_for_selector(f"[data-action='{name}'] button.accept[aria-pressed=true]")
    assert page.locator(f"#solve-actions input[value='{name}']").is_checked()
    auth = {"Authorization": f"Bearer {key}"}
    ranked = httpx.post(f"{base}/v1/suggestions", json={"ticket_id": ticket_id, "actions": 20}, headers=auth).json()
    assert any(a["action"] == name and a["accepted"] >= 1 for a in ranked["actions"]), ranked["actions"]

    # Re-route, then solve: the ticket becomes a resolved case with the accepted action.
    page.select_option("#reroute-department", "returns_refunds")
    page.get_by_role("button", name="Re-route").click()
    expect(page.locator("[data-testid=department]")).to_have_text("returns_refunds")
    # Re-routing keeps what the agent has typed and the verdicts given.
    expect(page.locator("#conversation")).to_have_value(re.compile("money refunded"))
    expect(page.locator(f"[data-action='{name}'] button.accept")).to_have_attribute("aria-pressed", "true")
    page.fill("#solve-resolution", "Booked a return label and refunded the blender once it is back.")
    page.fill("#agent-id", "agent-browser")
    expect(page.locator("#live-status")).to_have_text(re.compile("^Suggestions updated"))
    page.screenshot(path=str(shots / "agent-desk.png"), full_page=True)
    page.get_by_role("button", name="Mark solved").click()
    expect(page.locator("#toast")).to_have_text(re.compile(r"^Solved\."))
    case_id = int(re.search(r"case #(\d+)", page.inner_text("#toast")).group(1))  # type: ignore[union-attr]
    case = httpx.get(f"{base}/v1/cases/{case_id}", headers=auth).json()
    assert case["ticket_id"] == ticket_id and name in case["actions"]

    solved_after, chart_after = solved_today(page)
    assert (solved_after, chart_after) == (solved_before + 1, chart_before + 1)


def test_knowledge_admin_and_what_the_portal_answers(page: Any, console: tuple[str, str], shots: Path) -> None:
    _, key = console
    sign_in(page, key, "/console/knowledge")
    page.wait_for_selector("#faq-list tbody tr")
    page.fill("#faq-question", "Can I collect my order from a parcel locker?")
    page.fill(
        "#faq-answer", "Yes: choose 'Parcel locker' at checkout and pick any locker near you; you get a code by SMS."
    )
    page.fill("#faq-tags", "shipping, lockers")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#faq-editor-title")).to_have_text(re.compile("^Edit entry #"))
    page.fill("#faq-text", "my order from a parcel locker")
    page.get_by_role("button", name="Find", exact=True).click()
    expect(page.locator("#faq-count")).to_have_text(re.compile("^1 entry"))

    page.fill("#portal-query", "can I pick up my package at a locker")
    page.get_by_role("button", name="Search as the portal").click()
    top = page.locator("#portal-results li").first
    top.wait_for()
    assert "parcel locker" in top.inner_text().lower()
    page.screenshot(path=str(shots / "knowledge.png"), full_page=True)

    # Unpublished, it is gone from the portal at once.
    page.get_by_label("Published (the portal can show it)").uncheck()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#toast")).to_have_text(re.compile("^Saved entry"))
    page.get_by_role("button", name="Search as the portal").click()
    expect(page.locator("#portal-results")).not_to_contain_text("Can I collect my order from a parcel locker?")


def test_insights_show_satisfaction_its_drivers_and_the_gaps(
    page: Any, console: tuple[str, str], portal_key: str, shots: Path
) -> None:
    base, key = console
    auth = {"Authorization": f"Bearer {key}"}
    searched = httpx.get(
        f"{base}/v1/faq/search",
        params={"q": "how long does a refund take", "customer_ref": "cust-browser"},
        headers={"Authorization": f"Bearer {portal_key}"},
    )
    assert searched.status_code == 200
    sign_in(page, key, "/console/insights")
    page.wait_for_selector("#drivers tbody tr")
    page.wait_for_selector("#gaps tbody tr")

    # The tiles and the drivers say what the API says for the same period.
    today = datetime.now(UTC).date()
    period = {
        "from": f"{today - timedelta(days=55)}T00:00:00Z",
        "to": f"{today + timedelta(days=1)}T00:00:00Z",
    }
    overall = httpx.get(f"{base}/v1/kpis", params={**period, "group_by": "all"}, headers=auth).json()["groups"][0]
    assert overall["csat_responses"] >= 100  # the demo's survey answers
    # The page rounds as JavaScript's toFixed does: an exact tie goes up (Python's format rounds it to even).
    shown_rate = Decimal(overall["csat_rate"] * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    assert page.inner_text("[data-kpi=csat] .value") == f"{shown_rate} %"
    assert int(page.inner_text("[data-kpi=searches] .value")) >= 1
    drivers = httpx.get(f"{base}/v1/insights/drivers", params={**period, "target": "csat"}, headers=auth).json()
    shown = page.locator("#drivers tbody tr")
    assert shown.count() == len(drivers["drivers"])
    assert shown.first.locator("th").inner_text() == drivers["drivers"][0]["summary"]
    # The demo's answers favour first contact resolution: the page finds it as a clear, positive driver.
    fcr = page.locator("#drivers tr[data-driver=fcr]")
    assert fcr.locator("td").nth(1).inner_text().startswith("+") and fcr.locator("td").nth(3).inner_text() == "yes"
    assert page.locator("#chart-csat svg").count() == 1 and page.locator("#chart-deflection svg").count() == 1
    page.screenshot(path=str(shots / "insights.png"), full_page=True)

    # NPS instead of CSAT: the drivers follow.
    page.select_option("#insights-target", "nps")
    expect(page.locator("#drivers p.meta").first).to_contain_text("NPS answers")

    # A gap's words (never a customer's text) start an unpublished FAQ entry on the knowledge page.
    top = page.locator("#gaps tbody tr").first
    terms = top.locator("th span").first.inner_text()
    # The demo desk's tickets are English and German, each language clustered apart.
    language = top.locator("td").nth(3).inner_text()
    assert language in {"en", "de"}
    top.get_by_role("link", name="Draft an FAQ entry for topic 1").click()
    page.wait_for_url("**/console/knowledge?draft=**")
    expect(page.locator("#faq-editor-title")).to_have_text("New entry")
    expect(page.locator("#faq-tags")).to_have_value(terms)
    expect(page.locator("#faq-language")).to_have_value(language)
    expect(page.locator("#faq-question")).to_have_value("")
    expect(page.locator("#faq-question")).to_be_focused()
    expect(page.locator("#faq-is-published")).not_to_be_checked()


def test_keyboard_labels_and_contrast_on_every_page(page: Any, console: tuple[str, str]) -> None:
    _, key = console
    sign_in(page, key)
    for path, ready in [
        ("/console/agent", "#queue-list li"),
        ("/console/kpis", "#chart-fcr svg"),
        ("/console/knowledge", "#faq-list tbody tr"),
        ("/console/insights", "#gaps tbody tr"),
    ]:
        page.goto(path)
        page.wait_for_selector(ready)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content", path
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main", path
        assert page.evaluate(f"({CHECKS}).unlabelled()") == [], path
        assert page.evaluate(f"({CHECKS}).contrast()") == [], path


def test_sign_in_refuses_bad_and_portal_keys(page: Any, console: tuple[str, str], portal_key: str) -> None:
    page.goto("/console/sign-in")
    page.fill("#api-key", "sda_not-a-key")
    page.keyboard.press("Enter")
    expect(page.locator("#sign-in-error")).to_contain_text("unknown or revoked")
    page.fill("#api-key", portal_key)
    page.keyboard.press("Enter")
    expect(page.locator("#sign-in-error")).to_contain_text("role cannot use the console")
    assert page.url.endswith("/console/sign-in")
    # Without signing in, every page sends the browser to sign in, and back afterwards.
    page.goto("/console/knowledge")
    page.wait_for_url("**/console/sign-in?next=%2Fconsole%2Fknowledge")
