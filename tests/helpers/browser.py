"""Shared Playwright support for the browser tests (Debian's /usr/bin/chromium, never `playwright install`).

A test module imports what it needs; importing the fixtures is what registers them there:

    from tests.helpers.browser import browser_type_launch_args  # noqa: F401 (the fixture)

`watch(page, live_server.url)` records, on every page the test opens, the console errors, uncaught page errors,
Content-Security-Policy violations and requests to any host but the live server (aborted: nothing leaves the machine);
`Watch.assert_clean()` fails the test on any of them. `sign_in(page, url, username)` goes through the real form.
`screenshot(page, name)` saves a PNG under var/test-artifacts/ and prints the path (look at them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, Route, expect

PASSWORD = "pw-for-tests"  # UserFactory's

_REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("NOVAOPS_TEST_ARTIFACTS", _REPO / "var" / "test-artifacts"))

# Injected through the DevTools protocol before any script of each document runs, so the page's own CSP does not
# apply to it. Each `securitypolicyviolation` event is kept on window and sent at once to the test through an exposed
# binding (also a DevTools channel), so violations survive navigations the test did not start itself (a click).
_CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  var entry = {
    directive: event.violatedDirective, blocked: event.blockedURI, source: event.sourceFile, line: event.lineNumber,
    sample: event.sample, page: String(window.location)
  };
  window.__cspViolations.push(entry);
  if (window.__novaopsCspViolation) window.__novaopsCspViolation(entry);
});
"""


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    # Debian's Chromium; no background traffic of its own (update checks, sync, field trials).
    return {
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@dataclass
class Watch:
    """What went wrong on the pages of one test, collected as it happens."""

    page: Page
    local: str  # host:port of the live server
    requests: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)
    pages_seen: list[str] = field(default_factory=list)

    def _on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _route(self, route: Route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in ("data", "blob") or parts.netloc == self.local:
            route.continue_()
        else:
            self.elsewhere.append(route.request.url)
            route.abort()

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({self.page.url})")

    def collect_violations(self) -> None:
        """Read back the CSP violations the current document recorded (call before navigating away)."""
        try:
            found = self.page.evaluate("window.__cspViolations || []")
        except Exception:  # the page is navigating: the next call reads the new document
            return
        for violation in found:
            self._record(violation)

    def _record(self, violation: dict) -> None:
        if violation not in self.violations:
            self.violations.append(violation)

    def goto(self, url: str, **kwargs):
        """Navigate, keeping what the page being left recorded."""
        self.collect_violations()
        response = self.page.goto(url, **kwargs)
        self.pages_seen.append(self.page.url)
        return response

    def expect_refused_page(self, status: int) -> None:
        """The page just shown was answered with `status` on purpose (a refused form): Chromium logs every 4xx
        document as a console error, which is that answer, not a fault of the page; any other error still counts."""
        note = f"the server responded with a status of {status}"
        refused = [error for error in self.console_errors if note in error]
        assert refused, f"expected a page answered {status}"
        self.console_errors = [error for error in self.console_errors if note not in error]

    def assert_clean(self) -> None:
        self.collect_violations()
        assert self.requests, "no request was recorded"
        assert self.elsewhere == [], "requests to another host"
        assert self.violations == [], "Content-Security-Policy violations"
        assert self.page_errors == [], "uncaught errors in the page"
        assert self.console_errors == [], "console errors"


def watch(page: Page, live_server_url: str) -> Watch:
    seen = Watch(page=page, local=urlsplit(live_server_url).netloc)
    page.add_init_script(_CSP_LISTENER)
    page.on("request", seen._on_request)
    page.on("console", seen._on_console)
    page.on("pageerror", lambda error: seen.page_errors.append(f"{error} ({page.url})"))
    page.expose_function("__novaopsCspViolation", seen._record)
    page.route("**/*", seen._route)
    return seen


def sign_in(page: Page, base_url: str, username: str = "lead", next_path: str = "/") -> None:
    """Through the real form: the protected page sends us there first, then back."""
    page.goto(f"{base_url}{next_path}")
    expect(page.get_by_label("Username")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}{next_path}")
    # Its deferred scripts have run (dashboards.js tells the server the browser's zone with a cookie).
    page.wait_for_load_state("load")


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print(f"screenshot: {path}")
    return path
