"""The recap of the rehearsed session on three platforms (tests/test_multi_platform.py): split
by platform and combined, the activity stacked by platform in the HTML (inline SVG), the
Markdown and the PNG charts, the host's posts credited to each platform's own account, and
each platform's cost."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from qasession.recap import build_recap, export_rows
from qasession.recap.charts import write_pngs
from qasession.recap.render import to_html, to_markdown
from tests.test_multi_platform import HOSTS, PLATFORMS, run_session
from tests.test_recap_html import _LAYOUT, ARTIFACTS
from tests.test_recap_html import chromium as chromium  # the fixture


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = run_session(tmp_path_factory.mktemp("multi-recap"))
    result["recap"] = build_recap(result["store"], result["session"])
    return result


def test_the_split_adds_up_to_the_combined_numbers(rehearsed: dict[str, Any]) -> None:
    split = rehearsed["recap"].by_platform
    rows = {r["platform"]: r for r in split["platforms"]}
    assert list(rows) == list(PLATFORMS)
    combined = split["combined"]
    assert combined["posts"] == sum(r["posts"] for r in rows.values()) > 0
    for bucket, total in enumerate(combined["activity"]):
        assert total == sum(r["activity"][bucket] for r in rows.values())
    # the offline question was asked on X and Bluesky: two questions there, one combined
    assert combined["questions"] < sum(r["questions"] for r in rows.values())
    assert rows["local:mastodon"]["community_answers"] == 1  # the --everywhere answer


def test_host_posts_are_credited_to_each_platforms_own_account(
    rehearsed: dict[str, Any],
) -> None:
    recap, store, session = rehearsed["recap"], rehearsed["store"], rehearsed["session"]
    people = {c.handle.lower() for c in recap.top_contributors.by_questions}
    people |= {c.handle.lower() for c in recap.top_contributors.by_engagement}
    assert not people & {h.lower() for h in HOSTS.values()}  # no host is a contributor
    own = [r for r in export_rows(store, session) if r["status"] == "own"]
    by_platform = {(r["platform"], r["author"].lower()) for r in own}
    assert by_platform == {(name, host.lower()) for name, host in HOSTS.items()}


def test_html_draws_the_activity_stacked_by_platform(rehearsed: dict[str, Any]) -> None:
    recap = rehearsed["recap"]
    page = to_html(recap)
    section = page[page.index('<section id="platforms"') :]
    section = section[: section.index("</section>")]
    assert "<svg" in section and "<script" not in section
    rows = {r["platform"]: r for r in recap.by_platform["platforms"]}
    for name in PLATFORMS:  # the legend names each platform with its total
        assert f"{name} ({sum(rows[name]['activity'])})" in section
        assert f"<td>{name}" in section
    assert "<b>combined</b>" in section and "$0.00" in section
    # one stack a platform: as many bar rectangles as buckets, for each
    buckets = len(recap.by_platform["combined"]["activity"])
    patches = re.findall(r'<g id="patch_\d+">', section)
    assert len(patches) >= buckets * len(PLATFORMS)


def test_markdown_has_the_split_and_a_stacked_text_chart(rehearsed: dict[str, Any]) -> None:
    recap = rehearsed["recap"]
    text = to_markdown(recap)
    part = text[text.index("## By platform") : text.index("## Questions and answers")]
    combined = recap.by_platform["combined"]
    assert f"| combined | {combined['participants']} | {combined['posts']} |" in part
    chart = part[part.index("```") + 4 : part.rindex("```")].splitlines()
    assert len(chart) == len(combined["activity"])
    rows = recap.by_platform["platforms"]
    for bucket, line in enumerate(chart):
        found = re.fullmatch(r"\+\s*(\d+)m ?([XBM]*)", line)
        assert found is not None, line
        assert int(found[1]) == bucket * recap.by_platform["bucket_minutes"]
        for letter, row in zip("XBM", rows, strict=True):  # one letter a post, stacked
            assert found[2].count(letter) == row["activity"][bucket]
    assert "X local:x, B local:bsky, M local:mastodon" in part


def test_png_charts_include_the_platforms_one(rehearsed: dict[str, Any], tmp_path: Path) -> None:
    written = {p.name for p in write_pngs(rehearsed["recap"], tmp_path)}
    assert "platforms.png" in written
    assert (tmp_path / "platforms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("width", [1280, 390])
def test_the_by_platform_section_fits_in_a_real_browser(
    rehearsed: dict[str, Any], tmp_path: Path, chromium: Path, width: int
) -> None:
    """The page of a session on three platforms, at desktop and phone widths: the table and
    the stacked chart hold in the page, nothing scrolls sideways."""
    from playwright.sync_api import sync_playwright

    page = tmp_path / "recap.html"
    page.write_text(to_html(rehearsed["recap"]), encoding="utf-8")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            tab = browser.new_page(viewport={"width": width, "height": 900})
            tab.goto(page.as_uri())
            found = tab.evaluate(_LAYOUT)
            box = tab.evaluate(
                "() => { const s = document.querySelector('#platforms'); "
                "const t = s.querySelector('table').getBoundingClientRect(); "
                "const g = s.querySelector('svg').getBoundingClientRect(); "
                "return {section: s.getBoundingClientRect().right, table: t.right, "
                "svg: [g.width, g.height], cells: s.querySelectorAll('td').length}; }"
            )
            broken = tab.evaluate(_BROKEN_WORDS, "#platforms th, #platforms .label")
            tab.screenshot(path=str(ARTIFACTS / f"recap-multi-{width}.png"), full_page=True)
        finally:
            browser.close()
    assert found["scroll"] <= found["width"] and found["over"] == [], found["over"][:10]
    assert box["table"] <= box["section"] + 1
    assert 0 < box["svg"][0] <= width and box["svg"][1] > 40
    assert box["cells"] == 8 * (len(PLATFORMS) + 1)
    # the column names, as headers (desktop) or labels (phone), break between words only
    assert broken["shown"] >= 7 and broken["words"] == [], broken


# For each element shown among the selected: every word of its text on one line (a word
# broken in the middle, "questi-ons", has its characters on two lines) and nothing clipped.
_BROKEN_WORDS = """(selector) => {
  let shown = 0;
  const words = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!el.getClientRects().length) continue;
    shown += 1;
    if (el.scrollWidth > el.clientWidth + 1) words.push(el.textContent + ' (clipped)');
    for (const node of el.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE) continue;
      for (const found of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, found.index);
        range.setEnd(node, found.index + found[0].length);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (tops.size > 1) words.push(found[0]);
      }
    }
  }
  return {shown, words};
}"""


def test_a_late_answer_stays_out_of_its_platforms_median_wait(tmp_path: Path) -> None:
    """An open question on local:x answered two hours after the end: its platform's median
    wait is the live one's, as the recap's own figures."""
    from datetime import timedelta

    from qasession.recap.platforms import platform_breakdown
    from qasession.store import OutboxItem

    result = run_session(tmp_path)
    store, session = result["store"], result["session"]
    before = {r["platform"]: r for r in platform_breakdown(store, session)["platforms"]}
    answered = {i.question_id for i in store.outbox(session.id, ("sent",)) if i.question_id}
    waiting = store.posts(session.id, where="platform = ? AND is_question = 1", params=("local:x",))
    question = next(p for p in waiting if p["id"] not in answered)
    item = OutboxItem(
        key="t:answer:late:0:answer", op="t:answer:late", seq=0, kind="answer",
        text="Late, but here. #AskAcme", question_id=question["id"], platform="local:x",
    )  # fmt: skip
    (stored,) = store.add_intents(session.id, [item])
    store.mark_sent(stored.id, "late-1", session.start + session.duration + timedelta(hours=2))
    after = {r["platform"]: r for r in platform_breakdown(store, session)["platforms"]}
    assert after["local:x"]["answered"] == before["local:x"]["answered"] + 1
    assert after["local:x"]["median_minutes_to_answer"] == 8.5
    assert before["local:x"]["median_minutes_to_answer"] == 8.5
