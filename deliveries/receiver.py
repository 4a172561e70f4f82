"""A test chat backend: receives fraudcenter's webhooks the way the real one must.

For local runs (`python manage.py chat_test_backend`, started by `make run`) and for the
end-to-end tests. It verifies every request's Standard Webhooks signature with the
`standardwebhooks` package (401 if it does not verify), keeps each webhook-id once (a repeat
is answered 200 and counted as a duplicate), and answers as told: slowly, with 5xx, 4xx,
429 + Retry-After, for the next N requests or from now on.

Told in-process (`receiver.script(...)`) or over HTTP:
  POST /_control {"script": [{"status": 503}, {"status": 200, "delay": 3}], "default": {...}}
  GET  /_messages  -> {"accepted": [...], "duplicates": n, "rejected": n, "requests": n}
  POST /_reset"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Answer:
    status: int = 200
    delay: float = 0.0  # seconds before answering (after accepting: the work is done)
    retry_after: str | None = None


@dataclass
class Received:
    webhook_id: str
    body: dict[str, Any]
    received_at: float
    answered: int = 0


@dataclass
class State:
    accepted: list[Received] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    duplicates: int = 0
    rejected: int = 0  # bad signatures
    script: list[Answer] = field(default_factory=list)
    default: Answer = field(default_factory=Answer)


class ChatBackend:
    def __init__(self, secret: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.webhook = Webhook(secret)
        self.state = State()
        self.lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _json(self, status: int, body: Any, headers: dict[str, str] | None = None):
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.startswith("/_messages"):
                    self._json(200, backend.summary())
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/_control"):
                    body = json.loads(raw or b"{}")
                    backend.script(
                        *(Answer(**a) for a in body.get("script", [])),
                        default=Answer(**body["default"]) if "default" in body else None,
                    )
                    self._json(200, {"ok": True})
                elif self.path.startswith("/_reset"):
                    backend.reset()
                    self._json(200, {"ok": True})
                else:
                    status, headers, delay = backend.receive(raw, dict(self.headers))
                    if delay:
                        time.sleep(delay)
                    # The sender may have given up waiting (its timeout): it will retry.
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self._json(status, {"status": status}, headers)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/chat/"
        self.thread: threading.Thread | None = None

    # --- behaviour ----------------------------------------------------------------------------

    def script(self, *answers: Answer, default: Answer | None = None) -> None:
        with self.lock:
            self.state.script.extend(answers)
            if default is not None:
                self.state.default = default

    def reset(self) -> None:
        with self.lock:
            self.state = State()

    def receive(self, raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], float]:
        try:
            body = self.webhook.verify(raw, headers)
        except WebhookVerificationError:
            with self.lock:
                self.state.rejected += 1
            return 401, {}, 0.0
        webhook_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
        with self.lock:
            answer = self.state.script.pop(0) if self.state.script else self.state.default
            record = Received(webhook_id, body, time.time(), answer.status)
            self.state.requests.append(record)
            if 200 <= answer.status < 300:
                if any(r.webhook_id == webhook_id for r in self.state.accepted):
                    self.state.duplicates += 1
                else:
                    self.state.accepted.append(record)
        extra = {"Retry-After": answer.retry_after} if answer.retry_after else {}
        return answer.status, extra, answer.delay

    # --- what arrived -------------------------------------------------------------------------

    def accepted(self) -> list[Received]:
        with self.lock:
            return list(self.state.accepted)

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                "accepted": [asdict(r) for r in self.state.accepted],
                "duplicates": self.state.duplicates,
                "rejected": self.state.rejected,
                "requests": len(self.state.requests),
            }

    def start(self) -> ChatBackend:
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
