"""The browser's side of the dashboards benchmark: sign in, fetch a page and every figure it names, time them.

"Every request a browser makes" for a dashboard is the page's HTML and one GET per element carrying
`data-figure-url` (static files are cached by a browser after the first page and are left out). Each request is
timed as the wall time of one HTTP exchange over a keep-alive loopback connection (send → whole body read): the
server's time plus a loopback round trip of well under a millisecond.
"""

from __future__ import annotations

import html
import http.client
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from bench.ingest import BenchFailed

TAG_RE = re.compile(r"<[a-zA-Z][^>]*>")
ATTRIBUTE_RE = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
CSRF_INPUT_RE = re.compile(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"')


class Client:
    """One keep-alive HTTP/1.1 connection to the server with a cookie jar of one session."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """(status, headers, body, seconds); reconnects once if the server closed the connection."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in range(2):
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
                continue
            seconds = time.perf_counter() - started
            for value in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(value).items():
                    self.cookies[name] = morsel.value
            return response.status, response.headers, payload, seconds
        raise AssertionError("unreachable")

    def get(self, path: str) -> tuple[bytes, float]:
        status, headers, payload, seconds = self.request("GET", path)
        if status != 200:
            location = headers.get("Location", "")
            raise BenchFailed(f"GET {path} answered {status} {location}: {payload[:500]!r}")
        return payload, seconds

    def sign_in(self, username: str, password: str) -> None:
        """The sign-in form, as a browser submits it: GET for the CSRF cookie and token, then POST."""
        status, _, page, _ = self.request("GET", "/accounts/login/")
        match = CSRF_INPUT_RE.search(page.decode())
        if status != 200 or not match:
            raise BenchFailed(f"the sign-in page answered {status} without a CSRF token")
        body = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": match.group(1)})
        status, headers, payload, _ = self.request(
            "POST",
            "/accounts/login/",
            body=body.encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"http://127.0.0.1:{self.port}/accounts/login/",
            },
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise BenchFailed(f"signing in as {username} answered {status}: {payload[:500]!r}")

    def close(self) -> None:
        self.conn.close()


def figure_urls(page: bytes, *, page_path: str) -> list[str]:
    """Every URL the page's script fetches as soon as it is loaded: each element's `data-figure-url` (a chart,
    static/js/dashboards.js) and each `hx-get` whose `hx-trigger` includes `load` (a fragment, htmx), unescaped
    and made absolute paths (same origin: path + query), in document order."""
    urls = []
    for tag in TAG_RE.findall(page.decode(errors="replace")):
        attributes = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in ATTRIBUTE_RE.finditer(tag)
        }
        found = attributes.get("data-figure-url")
        if found is None and "hx-get" in attributes:
            triggers = [t.strip().split(" ")[0] for t in attributes.get("hx-trigger", "").split(",")]
            found = attributes["hx-get"] if "load" in triggers else None
        if found is None:
            continue
        url = urljoin(page_path, html.unescape(found))
        parts = urlsplit(url)
        if parts.netloc and parts.netloc not in ("127.0.0.1", "localhost") and not parts.netloc.startswith("127."):
            raise BenchFailed(f"figure URL {url!r} is not same-origin")
        urls.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return urls


def _fetch_all(client: Client, urls: list[str], *, names, cache_clear, timings: Timings | None, depth: int = 0):
    """GET each URL (figure cache cleared first), timed into `timings` when given, and what an HTML fragment
    loads in turn (two levels at most)."""
    for url in urls:
        cache_clear()
        body, seconds = client.get(url)
        if timings is not None:
            timings.add(figure_kind(url, names), url, seconds)
        if depth < 2 and body.lstrip()[:1] not in (b"{", b"["):
            nested = figure_urls(body, page_path=url)
            _fetch_all(client, nested, names=names, cache_clear=cache_clear, timings=timings, depth=depth + 1)


def path_pattern(path: str, names: dict[str, str]) -> str:
    """A figure URL's path with the page's own names (slugs, handles) and numbers replaced by placeholders."""
    parts = []
    for part in urlsplit(path).path.split("/"):
        if part in names:
            part = names[part]
        elif part.isdigit():
            part = "<n>"
        parts.append(part)
    return "/".join(parts)


# Query parameters that do not make a figure another kind of request: which metric (the same work for another
# series), the range (a column of the table), and presentation only.
KIND_IGNORED = ("metric", "range", "start", "end", "tz", "refresh", "format")


def figure_kind(url: str, names: dict[str, str]) -> str:
    """The request kind of a figure URL: its path pattern and the parameters that shape its work (group, scope,
    chart), the page's own names replaced by placeholders: `/dashboards/figure/ division=<division> group=agent`."""
    parts = urlsplit(url)
    shaping = sorted(
        f"{key}={names.get(value, value)}"
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key not in KIND_IGNORED
    )
    return " ".join([path_pattern(parts.path, names), *shaping])


@dataclass
class Timings:
    """Seconds per request kind (the page HTML, each figure path pattern) and per figure URL."""

    by_kind: dict[str, list[float]] = field(default_factory=dict)
    by_url: dict[str, list[float]] = field(default_factory=dict)
    kind_of_url: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, url: str, seconds: float) -> None:
        self.by_kind.setdefault(kind, []).append(seconds)
        self.by_url.setdefault(url, []).append(seconds)
        self.kind_of_url[url] = kind


def page_time(
    client: Client,
    page_path: str,
    *,
    repeat: int,
    names: dict[str, str],
    cache_clear: Callable[[], None],
    figures: list[str] | None = None,
) -> Timings:
    """The page and its figures once untimed (warm database, warm processes), then `repeat` times timed, the
    figure cache cleared before every request. `figures` given: those URLs alone, without a page."""
    timings = Timings()
    urls = figures if figures is not None else figure_urls(client.get(page_path)[0], page_path=page_path)
    _fetch_all(client, urls, names=names, cache_clear=cache_clear, timings=None)
    for _ in range(repeat):
        if figures is None:
            cache_clear()
            page, seconds = client.get(page_path)
            timings.add("page HTML", page_path, seconds)
            urls = figure_urls(page, page_path=page_path)
        _fetch_all(client, urls, names=names, cache_clear=cache_clear, timings=timings)
    return timings


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between the closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def browser_load(port: int, page_path: str, cookies: dict[str, str], *, runs: int, cache_clear) -> dict:
    """The page in headless Chromium (Debian's), `runs` times: the navigation's loadEventEnd, and when the last
    figure response ended (both in ms from navigation start); medians, and every run."""
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{port}"
    load, figures = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            context = browser.new_context()
            context.add_cookies([{"name": k, "value": v, "url": base} for k, v in cookies.items()])
            page = context.new_page()
            page.goto(base + page_path, wait_until="load")  # static files into the browser's cache
            for _ in range(runs):
                cache_clear()
                page.goto(base + page_path, wait_until="load")
                page.wait_for_load_state("networkidle")
                load.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
                figures.append(
                    page.evaluate(
                        "Math.max(0, ...performance.getEntriesByType('resource')"
                        ".filter(e => e.initiatorType === 'fetch' || e.initiatorType === 'xmlhttprequest')"
                        ".map(e => e.responseEnd))"
                    )
                )
        finally:
            browser.close()
    return {
        "load_event_ms_median": statistics.median(load),
        "last_figure_ms_median": statistics.median(figures),
        "load_event_ms": load,
        "last_figure_ms": figures,
    }
