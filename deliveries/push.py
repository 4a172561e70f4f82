"""Server push to the staff pages: «look again» hints instead of polling.

A staff page used to ask every second whether its person had just answered a call (the screen
pop) and every three seconds for the chat: at 3,000 people that is 3,000 requests a second
that almost always answer «nothing new» (bench/RESULTS.md, the day run). With push on, a page
opens one EventSource to the push server (`manage.py push_server`, an asyncio process that
holds thousands of idle connections; gunicorn's sync workers cannot) and fetches the fragment
only when told that its topic changed.

A hint names a topic and nothing else: `pop:<user id>` (a call this person answered),
`case:<id>` (a chat line or a reply's delivery). What to show is still decided by the page's
own request, through the usual access checks; the hint carries no data. The page's topics are
signed into its push URL by Django (who may see what is decided there), so the push server
checks a signature and nothing else.

Hints are published to Redis after the commit that made the change. They may be lost (Redis
restarting, a page reconnecting): pages still poll, slowly (PUSH_FALLBACK_SECONDS), and at the
old pace while their push connection is down, so push makes pages faster, never wrong.

Off unless PUSH_URL (where browsers reach the push server) and PUSH_REDIS_URL are set: the
embedded default polls as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "fc:push:"
_SALT = "fraudcenter.push"
_client: Any = None


def enabled() -> bool:
    return bool(settings.PUSH_URL and settings.PUSH_REDIS_URL)


def _redis() -> Any:
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(settings.PUSH_REDIS_URL, socket_timeout=1)
    return _client


def publish(topic: str) -> None:
    """Tell the pages watching `topic` to look again, once the current transaction commits."""
    if enabled():
        transaction.on_commit(lambda: _send(topic))


def _send(topic: str) -> None:
    try:
        _redis().publish(CHANNEL_PREFIX + topic, topic.split(":", 1)[0])
    except Exception:  # noqa: BLE001  # a lost hint costs one fallback poll, never the write
        logger.warning("push: could not publish %s", topic, exc_info=True)


def sign(topics: Iterable[str]) -> str:
    return signing.dumps(sorted(set(topics)), salt=_SALT, compress=True)


def verify(token: str) -> list[str] | None:
    """The topics a push URL may listen to, or None for a forged or expired one."""
    try:
        topics = signing.loads(token, salt=_SALT, max_age=settings.PUSH_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        return None
    return topics


def origin(url: str) -> str | None:
    """The push server's origin when it is not the page's (the CSP's connect-src needs it)."""
    if not url.startswith(("http://", "https://")):
        return None
    return "/".join(url.split("/")[:3])


def url_for(topics: Iterable[str]) -> str:
    """The page's EventSource URL ("" when push is off)."""
    if not enabled():
        return ""
    return f"{settings.PUSH_URL}?t={sign(topics)}"
