"""Placeholder while this module is being written; replaced before this change lands."""

from django.http import Http404


def _not_yet(*args, **kwargs):
    raise Http404("Not built yet.")


calendar = _not_yet
