"""The vendored plotly.js must be the version plotly.py writes its figures for."""

import re
from pathlib import Path

import plotly
from django.conf import settings

VERSION = re.compile(r"plotly\.js(?: \([^)]*\))? v(\d+\.\d+\.\d+)")


def _version(path: Path) -> str:
    match = VERSION.search(path.read_text(encoding="utf-8", errors="replace")[:400])
    assert match, f"no plotly.js version in the header of {path}"
    return match[1]


def test_the_vendored_bundle_is_the_plotly_js_of_the_installed_plotly_package():
    shipped = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    vendored = settings.BASE_DIR / "static" / "vendor" / "plotly" / "plotly-basic.min.js"
    assert _version(vendored) == _version(shipped)
    assert (vendored.parent / "LICENSE").read_text().startswith("MIT License")
