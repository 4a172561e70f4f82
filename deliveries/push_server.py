"""The push server: Server-Sent Events for the staff pages (see deliveries/push.py).

One asyncio process holds every page's idle connection. It subscribes once to Redis
(`PSUBSCRIBE fc:push:*`) and hands each hint to the connections listening to its topic.
`GET <path>?t=<signed topics>` answers `text/event-stream`; a comment every
PUSH_KEEPALIVE_SECONDS keeps proxies from closing a quiet stream. A bad or expired signature
answers 403: the page then polls at the old pace.

Deliberately small: HTTP/1.1 GET only, no body, no cookies (the signature is the
credential), `Access-Control-Allow-Origin: *` so that a page on another port (make run) may
connect; behind the production proxy it is the same origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

from django.conf import settings

from .push import CHANNEL_PREFIX, verify

logger = logging.getLogger(__name__)


class Hub:
    """Topic → the queues of the connections listening to it."""

    def __init__(self) -> None:
        self.listeners: defaultdict[str, set[asyncio.Queue[str]]] = defaultdict(set)

    def add(self, topics: list[str], queue: asyncio.Queue[str]) -> None:
        for topic in topics:
            self.listeners[topic].add(queue)

    def remove(self, topics: list[str], queue: asyncio.Queue[str]) -> None:
        for topic in topics:
            self.listeners[topic].discard(queue)
            if not self.listeners[topic]:
                del self.listeners[topic]

    def tell(self, topic: str, event: str) -> None:
        for queue in self.listeners.get(topic, ()):
            if queue.qsize() < 10:  # a stuck reader gets no more than a few hints
                queue.put_nowait(event)


async def follow_redis(hub: Hub, url: str) -> None:
    """Hints from Redis to the hub, reconnecting with a backoff when Redis goes away."""
    import redis.asyncio as aioredis

    delay = 0.5
    while True:
        client = aioredis.Redis.from_url(url)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                delay = 0.5
                async for message in pubsub.listen():
                    if message["type"] != "pmessage":
                        continue
                    topic = message["channel"].decode()[len(CHANNEL_PREFIX) :]
                    hub.tell(topic, message["data"].decode())
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001  # Redis restarting: pages fall back to polling meanwhile
            logger.warning("push: Redis unavailable, retrying in %.1f s", delay, exc_info=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
        finally:
            await client.aclose()


async def _answer(writer: asyncio.StreamWriter, status: str, body: str = "") -> None:
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body.encode())}\r\nConnection: close\r\n\r\n{body}".encode()
    )
    await writer.drain()
    writer.close()


async def serve_client(
    hub: Hub, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        writer.close()
        return
    method, _, rest = head.decode("latin-1").partition(" ")
    target = rest.split(" ", 1)[0]
    url = urlsplit(target)
    if method != "GET" or url.path != path:
        await _answer(writer, "404 Not Found")
        return
    topics = verify(parse_qs(url.query).get("t", [""])[0])
    if topics is None:
        await _answer(writer, "403 Forbidden", "bad or expired push token")
        return
    queue: asyncio.Queue[str] = asyncio.Queue()
    hub.add(topics, queue)
    try:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
            b"X-Accel-Buffering: no\r\nAccess-Control-Allow-Origin: *\r\n"
            b"Connection: keep-alive\r\n\r\nretry: 3000\n\n"
        )
        await writer.drain()
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), settings.PUSH_KEEPALIVE_SECONDS)
            except TimeoutError:
                writer.write(b": keepalive\n\n")
            else:
                writer.write(f"event: {event}\ndata: {event}\n\n".encode())
            await writer.drain()
    except (ConnectionError, OSError):
        pass  # the page went away
    finally:
        hub.remove(topics, queue)
        writer.close()


async def run(host: str, port: int, path: str, ready: asyncio.Event | None = None) -> None:
    hub = Hub()
    follower = asyncio.create_task(follow_redis(hub, settings.PUSH_REDIS_URL))
    server = await asyncio.start_server(
        lambda r, w: serve_client(hub, r, w, path), host, port, backlog=4096
    )
    logger.warning("push server on %s:%s%s", host, port, path)
    if ready is not None:
        ready.set()
    try:
        async with server:
            await server.serve_forever()
    finally:
        follower.cancel()  # and wait for it: its Redis connection closes before the loop does
        with contextlib.suppress(asyncio.CancelledError):
            await follower
