"""A polled part of a page rendered once for every viewer who would see the same thing.

200 supervisors at 3,000 specialists poll the same queue board and the same callbacks list
every few seconds; rendering each poll costs tens of CPU ms. The part is rendered once per
QUEUE_PART_CACHE_SECONDS for all viewers whose `vary` (their rights, personal-data masking)
and language are the same. The one thing that differs per request, the CSRF token of a form
in the part, is rendered as a hole and filled in per request."""

from __future__ import annotations

import logging
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
logger = logging.getLogger(__name__)


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
    QUEUE_PART_CACHE_SECONDS; 0: not shared).

    Once it is stale, no poll waits for it: the request that finds it so gets the previous
    rendering at once and renders the part again after its answer has gone out (the WSGI
    server's close()); until that is done, others get the previous one too (at most
    STALE_GRACE seconds if that process died). Otherwise fifty supervisors whose polls come
    in the same second all rendered the 300-row list of specialists at once, and even one
    rendering per period was a poll's latency (p99 210 ms at 1,000 specialists)."""
    fresh_for = seconds if seconds is not None else settings.QUEUE_PART_CACHE_SECONDS
    key = f"part:{template}:{':'.join(str(v) for v in vary)}:{get_language()}"

    def render() -> str:
        context = build()
        context["csrf_token"] = _CSRF_HOLE
        html = render_to_string(template, context, request)
        cache.set(key, (html, time.time() + fresh_for), fresh_for + STALE_GRACE)
        cache.delete(f"{key}:render")
        return html

    if fresh_for <= 0:  # sharing turned off: every poll renders its own
        context = build()
        return HttpResponse(render_to_string(template, context, request))
    kept = cache.get(key)  # (html, fresh until: time.time())
    if kept is None:  # nothing to show meanwhile
        return HttpResponse(_filled(request, render()))
    html, fresh_until = kept
    if fresh_until <= time.time() and cache.add(f"{key}:render", 1, STALE_GRACE):
        return _ThenRender(_filled(request, html), then=render)
    return HttpResponse(_filled(request, html))


def _filled(request: HttpRequest, html: str) -> str:
    if _CSRF_HOLE not in html:  # a part without a form
        return html
    return html.replace(_CSRF_HOLE, get_token(request))


class _ThenRender(HttpResponse):
    """An answer that renders its part again once it has been sent: the WSGI server calls
    close() after the last byte (gunicorn, runserver and Django's test client alike)."""

    def __init__(self, content: str, *, then: Callable[[], object]) -> None:
        super().__init__(content)
        self.then = then

    def close(self) -> None:
        try:
            self.then()
        except Exception:  # the next poll renders it; this answer has gone out already
            logger.exception("shared part not rendered again")
        finally:
            super().close()


# How long a stale part may still be served while another request renders it again.
STALE_GRACE = 10
