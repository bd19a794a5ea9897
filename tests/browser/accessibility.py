"""axe-core in the browser tests: every page a test visits is checked for serious or critical violations.

`watch_accessibility(page, found)` checks each document `page` shows: when it has loaded, again just before a
test navigates away from it (`goto`, `reload`, `go_back`, `go_forward`, `set_content`), and, through
`check_open_pages`, when the test ends. So a document is checked as it opened and in the state the test left
it in (menus opened, forms filled, errors shown). A document left by a click or a form's submission is checked
as it loaded (Playwright cannot evaluate in a document whose navigation has started) and at the end of the test
if still open. `tests/browser/conftest.py` (`watched_page`) does all this for every test; a test calls nothing.

A check runs axe-core only when the document changed since its last check (a MutationObserver keeps count).
axe-core is evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern;
pmoflow never serves it (tests/browser/vendor/axe-core/README.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Error, Page

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
BLOCKING = ("serious", "critical")

# One run at a time per document (axe refuses to run twice at once); only HTML documents (not JSON, images,
# downloads); no frames (pages embed none of their own). Returns one line per failing element.
RUN_AXE = """async (blocking) => {
  if (!(document.contentType || "").includes("html") || !document.body) return [];
  if (!window.__pmoflowAxeChanges) {
    window.__pmoflowAxeChanges = 1;
    new MutationObserver(() => { window.__pmoflowAxeChanges += 1; }).observe(document.documentElement,
      {subtree: true, childList: true, attributes: true, characterData: true});
  }
  const changes = window.__pmoflowAxeChanges;
  if (window.__pmoflowAxeChecked === changes) return [];  // reported when it was checked
  window.__pmoflowAxe = (window.__pmoflowAxe || Promise.resolve()).then(() => axe.run(document, {
    iframes: false, resultTypes: ["violations"],
  }));
  const result = await window.__pmoflowAxe;
  window.__pmoflowAxeChecked = changes;
  const found = [];
  for (const rule of result.violations) {
    for (const node of rule.nodes) {
      if (!blocking.includes(node.impact)) continue;
      const detail = (node.failureSummary || "").split("\\n").slice(1, 2).join("").trim();
      found.push(`${rule.id} (${node.impact}) at ${node.target.join(" ")}: ${rule.help}`
        + (detail ? ` [${detail}]` : ""));
    }
  }
  return found;
}"""

# What a check may meet when the page is already gone or leaving; the next document gets its own check.
GONE = ("Execution context was destroyed", "Target page, context or browser has been closed", "Frame was detached")


def violations_of(page: Page) -> list[str]:
    """The serious and critical axe-core violations of the document `page` shows now, each naming the page,
    the rule, the element and the fix; [] for a page that is not an http(s) HTML document or has gone."""
    url = page.url
    if not url.startswith(("http://", "https://")):
        return []
    try:
        if not page.evaluate("typeof axe !== 'undefined'"):
            page.evaluate(AXE_SOURCE)
        found: list[str] = page.evaluate(RUN_AXE, list(BLOCKING))
    except Error as err:
        if any(reason in str(err) for reason in GONE):
            return []
        raise
    return [f"{url}: {line}" for line in found]


def _record(found: list[str], lines: list[str]) -> None:
    found.extend(line for line in lines if line not in found)


NAVIGATIONS = ("goto", "reload", "go_back", "go_forward", "set_content")


def watch_accessibility(page: Page, found: list[str]) -> None:
    """Append to `found` the violations of each document `page` shows: once loaded, and before a navigation
    the test asks for leaves it."""
    checking = [0]  # load checks running now (each in its own greenlet of Playwright's event dispatcher)

    def on_load(_: Page) -> None:
        checking[0] += 1
        try:
            _record(found, violations_of(page))
        finally:
            checking[0] -= 1

    def checked_first(navigate: Any) -> Any:
        def navigating(*args: Any, **kwargs: Any) -> Any:
            while checking[0] and not page.is_closed():  # let the load check finish (events run meanwhile)
                page.wait_for_timeout(10)
            _record(found, violations_of(page))
            return navigate(*args, **kwargs)

        return navigating

    page.on("load", on_load)
    for name in NAVIGATIONS:
        setattr(page, name, checked_first(getattr(page, name)))


def check_open_pages(context: BrowserContext, found: list[str]) -> None:
    """Append to `found` the violations of the documents the pages of `context` show now."""
    for page in context.pages:
        if not page.is_closed():
            _record(found, violations_of(page))
