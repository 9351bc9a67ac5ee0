"""The HTML recap: self-contained and escaped (always checked), and opened in headless Chromium
(when it is installed; under CI=true a missing one fails): no console error, charts in the DOM,
hostile texts shown as text, and, driven by Playwright at 1280 and 390 pixels wide, no
overflow and KPI values on one line (screenshots in artifacts/)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from qasession.plan import load_plan
from qasession.recap import build_recap
from qasession.recap.render import to_html
from qasession.store import Store
from tests.conftest import ROOT
from tests.support.require import require
from tests.test_recap import PLAN, fill_store

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture
def page(tmp_path: Path, home: Path) -> Path:
    plan_path = tmp_path / "sessions.yaml"
    plan_path.write_text(PLAN, encoding="utf-8")
    plan = load_plan(plan_path)
    store = Store.open(home)
    fill_store(store)
    html = to_html(build_recap(store, plan.get("t"), plan=plan))
    path = tmp_path / "recap.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_self_contained_and_escaped(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    # nothing to fetch and nothing to run: no script, stylesheet link, image or frame
    assert re.search(r"<(script|link|img|iframe|object|embed)\b", html, re.IGNORECASE) is None
    assert re.search(r"\b(src|href)\s*=\s*[\"']?\s*(https?:)?//", html, re.IGNORECASE) is None
    assert "default-src 'none'" in html  # the policy forbids both, should a bug let one in
    assert html.count("<svg") == 3  # activity, top contributors, time to answer
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html
    assert "[click](http://evil)" in html and 'href="http://evil"' not in html
    assert "\x1b" not in html and "red Can I get a refund" in html


def test_chart_labels_are_escaped(tmp_path: Path, home: Path) -> None:
    from qasession.recap import Contributor
    from qasession.recap.render import charts

    plan_path = tmp_path / "sessions.yaml"
    plan_path.write_text(PLAN, encoding="utf-8")
    plan = load_plan(plan_path)
    recap = build_recap(Store.open(home), plan.get("t"), plan=plan)
    recap.top_contributors.by_questions = [Contributor("@<script>x</script>\x1b[2J", 3, 3, 0)]
    svg = charts(recap)["contributors"]
    assert "<script" not in svg and "&lt;script&gt;" in svg and "\x1b" not in svg


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _console_errors(stderr: str) -> list[str]:
    """Console messages (the page runs no script, so any is a problem: an error, a blocked
    resource, a policy violation) and uncaught exceptions."""
    return [
        line
        for line in stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Content Security Policy" in line
    ]


@pytest.fixture
def chromium() -> Path:
    return require(
        CHROMIUM,
        "Chromium",
        hint="./dev test installs it with apt-get when run as root",
        opt_out="QA_NO_BROWSER",
    )


def test_opens_in_headless_chromium(page: Path, tmp_path: Path, chromium: Path) -> None:
    dumped = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert _console_errors(dumped.stderr) == []
    dom = dumped.stdout
    assert dom.count("<svg") >= 3  # the charts are in the DOM
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # shown as text, not run
    assert re.search(r"<img\b", dom) is None  # no element came out of the hostile post
    assert '&lt;img src=x onerror="alert(2)"&gt;' in dom  # (text nodes keep their quotes)
    assert "[click](http://evil)" in dom and 'href="http://evil"' not in dom

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "recap.png"
    shot.unlink(missing_ok=True)
    taken = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert _console_errors(taken.stderr) == []
    assert shot.exists() and shot.stat().st_size > 10_000  # for people to look at


# --------------------------------------------------------------------------------------------
# Layout in a real browser (Playwright driving the system's Chromium) at desktop and phone
# widths: the charts render, nothing overflows, the KPI values hold on one line.

_LAYOUT = """() => {
  const width = document.documentElement.clientWidth;
  const over = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width && (box.right > width + 1 || box.left < -1)) {
      const inChart = el.closest('svg') && el.tagName.toLowerCase() !== 'svg';
      if (!inChart) over.push(el.tagName + '.' + el.className);
    }
  }
  const kpis = [...document.querySelectorAll('.card b')].map(b => {
    const style = getComputedStyle(b);
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.2;
    return {text: b.textContent, lines: Math.round(b.getBoundingClientRect().height / line),
            clipped: b.scrollWidth > b.clientWidth + 1};
  });
  const svgs = [...document.querySelectorAll('section.chart svg')].map(s => {
    const box = s.getBoundingClientRect();
    return [box.width, box.height];
  });
  return {scroll: document.documentElement.scrollWidth, width, over, kpis, svgs};
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_layout_in_a_real_browser(page: Path, chromium: Path, width: int) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(chromium),
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )  # fmt: skip
        try:
            tab = browser.new_page(viewport={"width": width, "height": 900})
            tab.on("console", lambda message: errors.append(message.text))
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.goto(page.as_uri())
            found = tab.evaluate(_LAYOUT)
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / f"recap-{width}.png"
            tab.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert found["scroll"] <= found["width"], found["over"][:10]  # no sideways scrolling
    assert found["over"] == []
    assert len(found["svgs"]) >= 3  # activity, contributors, time to answer
    for chart_width, chart_height in found["svgs"]:
        assert 0 < chart_width <= width and chart_height > 40
    assert found["kpis"] and all(k["lines"] == 1 and not k["clipped"] for k in found["kpis"]), (
        found["kpis"]
    )
    assert shot.stat().st_size > 10_000
