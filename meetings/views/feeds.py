"""Placeholder while this module is being written; replaced before this change lands."""

from django.http import Http404


def _not_yet(*args, **kwargs):
    raise Http404("Not built yet.")


series_ics = feed_manage = feed_ics = _not_yet
