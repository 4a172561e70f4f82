"""A polled part of a page rendered once for every viewer who would see the same thing.

200 supervisors at 3,000 specialists poll the same queue board and the same callbacks list
every few seconds; rendering each poll costs tens of CPU ms. The part is rendered once per
QUEUE_PART_CACHE_SECONDS for all viewers whose `vary` (their rights, personal-data masking)
and language are the same. The one thing that differs per request, the CSRF token of a form
in the part, is rendered as a hole and filled in per request."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.translation import get_language

_CSRF_HOLE = "__csrf_token_of_the_request__"


def shared_part(
    request: HttpRequest,
    template: str,
    build: Callable[[], dict[str, Any]],
    *,
    vary: Iterable[object],
    seconds: int | None = None,
) -> HttpResponse:
    """`build` gives the template's context (it runs only on a miss); everything the part
    shows that depends on the viewer must be in `vary`. Fresh for `seconds` (default
    QUEUE_PART_CACHE_SECONDS).

    When it goes stale, one request renders it again while the others that arrive meanwhile
    get the previous rendering (at most a render's time older, or STALE_GRACE seconds if that
    request died): fifty supervisors whose polls come in the same second would otherwise all
    render the 300-row list of specialists at once, on the same two cores."""
    fresh_for = seconds if seconds is not None else settings.QUEUE_PART_CACHE_SECONDS
    key = f"part:{template}:{':'.join(str(v) for v in vary)}:{get_language()}"
    kept = cache.get(key)  # (html, fresh until: time.time())
    if kept is None or (kept[1] <= time.time() and cache.add(f"{key}:render", 1, STALE_GRACE)):
        context = build()
        context["csrf_token"] = _CSRF_HOLE
        html = render_to_string(template, context, request)
        cache.set(key, (html, time.time() + fresh_for), fresh_for + STALE_GRACE)
        cache.delete(f"{key}:render")
    else:
        html = kept[0]
    if _CSRF_HOLE not in html:  # a part without a form
        return HttpResponse(html)
    return HttpResponse(html.replace(_CSRF_HOLE, get_token(request)))


# How long a stale part may still be served while another request renders it again.
STALE_GRACE = 10
