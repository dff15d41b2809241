"""A static files finder for the one file we take from an installed package rather than vendor: plotly.min.js.

Served as `vendor/plotly/plotly.min.js` straight from the plotly package, so the browser always runs the plotly.js
that plotly.py's figures were written for (the package's own licence covers it: MIT, as its header says). Only that
file: the package directory also holds datasets and templates that are none of the site's business.
"""

from collections.abc import Iterator
from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_PREFIX = "vendor/plotly"
PLOTLY_FILE = "plotly.min.js"
PLOTLY_PATH = f"{PLOTLY_PREFIX}/{PLOTLY_FILE}"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=Path(plotly.__file__).parent / "package_data")
        # collectstatic copies files under the storage's prefix.
        self.storage.prefix = PLOTLY_PREFIX

    def find(self, path: str, find_all: bool = False) -> str | list[str]:
        if path != PLOTLY_PATH:
            return [] if find_all else ""
        found = self.storage.path(PLOTLY_FILE)
        return [found] if find_all else found

    def list(self, ignore_patterns: list[str] | None) -> Iterator[tuple[str, FileSystemStorage]]:
        yield PLOTLY_FILE, self.storage
