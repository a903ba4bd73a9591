"""The browser the pages' tests drive: Debian's chromium under Playwright, each page watched
for console errors, failed requests and elements that overflow the viewport.

Playwright's sync API runs an event loop in the test's thread while the browser is open, so
Django's ORM would refuse to run there (`SynchronousOnlyOperation`): the fixture that opens the
browser sets `DJANGO_ALLOW_ASYNC_UNSAFE` for as long as it is open. Nothing runs concurrently
with the test's own queries: the loop only serves the browser's messages.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAS_CHROMIUM = Path(CHROMIUM).exists()
WIDTHS = (1400, 390)
HEIGHT = 900
ROOT = Path(__file__).resolve().parents[2]
# Where the screenshots go: a folder a person can open after the run (gitignored).
SCREENSHOTS = Path(
    os.environ.get("ATOM_SCREENSHOTS_DIR")
    or ROOT / "test-output" / "pages" / os.environ.get("ATOM_TEST_LEG", "local")
)

# Elements that overflow the viewport and are not clipped by a scrolling ancestor: a page that
# makes the whole window scroll sideways. Reported as short CSS-like paths.
OVERFLOWING_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const clipped = (element) => {
    for (let parent = element.parentElement; parent && parent !== document.body;
         parent = parent.parentElement) {
      const style = getComputedStyle(parent);
      if (style.overflowX !== "visible" && parent.getBoundingClientRect().right <= width + 1) {
        return true;
      }
    }
    return false;
  };
  const name = (element) => {
    let text = element.tagName.toLowerCase();
    if (element.id) text += "#" + element.id;
    else if (typeof element.className === "string" && element.className.trim())
      text += "." + element.className.trim().split(/\\s+/).join(".");
    return text;
  };
  const found = [];
  const reported = new Set();
  for (const element of document.body.querySelectorAll("*")) {
    if (element.parentElement && reported.has(element.parentElement)) {
      reported.add(element);
      continue;
    }
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right > width + 1 && !clipped(element)) {
      const style = getComputedStyle(element);
      if (style.position === "fixed" || style.visibility === "hidden") continue;
      reported.add(element);
      const parent = element.parentElement;
      const where = parent ? name(parent) + " > " : "";
      found.push(`${where}${name(element)} ends at ${Math.round(box.right)} px`);
    }
  }
  return found;
}
"""


@dataclass
class PageProblems:
    """What went wrong while a page loaded and was used."""

    console: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    overflowing: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [
            *(f"console: {line}" for line in self.console),
            *(f"response: {line}" for line in self.responses),
            *(f"overflow: {line}" for line in self.overflowing[:5]),
        ]


@contextmanager
def watching(page) -> Iterator[PageProblems]:
    """Record the page's console errors, uncaught exceptions and failed requests meanwhile."""
    problems = PageProblems()

    def on_console(message) -> None:
        if message.type == "error":
            problems.console.append(message.text)

    def on_response(response) -> None:
        if response.status >= 400:
            problems.responses.append(f"{response.status} {response.request.method} {response.url}")

    def on_failure(request) -> None:
        if _is_real_failure(request):
            problems.responses.append(f"failed {request.method} {request.url}: {request.failure}")

    handlers = {
        "console": on_console,
        "pageerror": lambda error: problems.console.append(f"uncaught: {error}"),
        "response": on_response,
        "requestfailed": on_failure,
    }
    for event, handler in handlers.items():
        page.on(event, handler)
    try:
        yield problems
    finally:
        for event, handler in handlers.items():
            page.remove_listener(event, handler)


def _is_real_failure(request) -> bool:
    # A navigation away (or a reload) aborts what the old page still had in flight.
    return "ERR_ABORTED" not in (request.failure or "")


def screenshot_name(name: str, width: int) -> Path:
    safe = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return SCREENSHOTS / f"{safe}-{width}.png"


def page_check(page, url: str, name: str, *, ready: str | None = None) -> list[str]:
    """Open `url` at each width, wait until it settles (and `ready` matches, when given),
    save a screenshot of each, and return every problem found, named by page and width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        with watching(page) as problems:
            page.goto(url, wait_until="networkidle")
            if ready:
                page.wait_for_selector(ready)
            problems.overflowing = page.evaluate(OVERFLOWING_JS)
            page.screenshot(path=screenshot_name(name, width), full_page=True)
        found += [f"{name} at {width} px: {problem}" for problem in problems.all()]
    return found


@contextmanager
def browser_open() -> Iterator:
    """Chromium under Playwright (never a browser Playwright downloads)."""
    from playwright.sync_api import sync_playwright

    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


def sign_in(page, base_url: str, username: str, password: str) -> None:
    """Sign in through the admin's login form, as a person does."""
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()
    if page.url != f"{base_url}/admin/":
        raise AssertionError(f"signing in failed: {page.url}\n{page.inner_text('body')[:2000]}")
