"""Renderers of the metrics APIs."""

import csv
import io
from typing import Any

from rest_framework import renderers

from metrics.selectors import GROUP_COLUMNS


class SeriesCSVRenderer(renderers.BaseRenderer):
    """The series payload as CSV: a header row, then one row per point (metric, group labels, ts, value)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        response = (renderer_context or {}).get("response")
        if (response is not None and response.status_code >= 400) or not (isinstance(data, dict) and "series" in data):
            # A problem stays JSON (the exception handler has set application/problem+json) when CSV was asked for.
            return renderers.JSONRenderer().render(data, accepted_media_type, renderer_context)
        labels = GROUP_COLUMNS[data["group_by"]]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["metric", *labels, "ts", "value"])
        for series in data["series"]:
            prefix = [series["metric"], *(series["group"][label] for label in labels)]
            writer.writerows([*prefix, ts, value] for ts, value in series["points"])
        return out.getvalue().encode()
