"""The escalation template helpers (escalations/templatetags/escalations.py): comments as safe Markdown, durations."""

from datetime import timedelta

import pytest

from escalations.templatetags.escalations import duration, markdown, priority_badge, state_badge


def test_markdown_renders_commonmark():
    html = markdown("**bold** and _it_\n\n- one\n- two\n\n`code`")
    assert "<strong>bold</strong>" in html
    assert "<em>it</em>" in html
    assert "<li>one</li>" in html
    assert "<code>code</code>" in html


def test_raw_html_is_shown_as_text():
    html = markdown('<script>alert("x")</script> <img src=x onerror=alert(1)> <b>b</b>')
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert "<img" not in html
    assert "<b>" not in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:x",
        "file:///etc/passwd",
        "/relative",
    ],
)
def test_links_other_than_web_and_mail_are_dropped(url):
    html = markdown(f"[click]({url}) <{url}>")
    assert "<a " not in html
    assert "click" in html


@pytest.mark.parametrize("url", ["https://example.org/a?b=1", "http://example.org", "mailto:core@example.test"])
def test_web_and_mail_links_stay_without_referrer(url):
    html = markdown(f"[there]({url})")
    assert f'href="{url.replace("&", "&amp;")}"' in html
    assert 'rel="nofollow noopener noreferrer"' in html


def test_images_are_not_loaded():
    assert "<img" not in markdown("![tracker](https://example.org/pixel.png)")


def test_empty_comment_renders_nothing():
    assert markdown("") == ""


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (timedelta(seconds=45), "45 s"),
        (timedelta(minutes=5), "5 min"),
        (timedelta(hours=2, minutes=5, seconds=3), "2 h 5 min"),
        (timedelta(days=3, hours=4, minutes=1), "3 d 4 h"),
        (-timedelta(hours=1), "1 h"),
        (None, "—"),
    ],
)
def test_duration_in_words(value, words):
    assert duration(value) == words


def test_badges_name_known_values_only():
    assert state_badge("open") == "text-bg-danger"
    assert state_badge("nonsense") == "text-bg-light"
    assert priority_badge("P1") == "esc-priority--p1"
    assert priority_badge("P9") == ""
