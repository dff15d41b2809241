"""Placeholder while this module is being written; replaced before this change lands."""

from django.http import Http404


def _not_yet(*args, **kwargs):
    raise Http404("Not built yet.")


queue = raise_form = sla_policy = detail = act = _not_yet
