"""The test chat backend as a fixture: a real HTTP server on 127.0.0.1 that verifies the
Standard Webhooks signature (deliveries/receiver.py), and the chat target pointing at it."""

from __future__ import annotations

import base64

import pytest

from deliveries.receiver import ChatBackend

SECRET = "whsec_" + base64.b64encode(b"fraudcenter-test-secret-32-bytes").decode()


@pytest.fixture
def chat_server(settings):
    """The test chat backend on a free port, and the chat target pointing at it."""
    backend = ChatBackend(SECRET).start()
    settings.DELIVERY_TARGETS = {"chat": {"URL": backend.url, "SECRET": SECRET}}
    settings.DELIVERY_TIMEOUT = 1.0
    settings.DELIVERY_CONNECT_TIMEOUT = 1.0
    settings.DELIVERY_RETRY_BASE_SECONDS = 2.0
    settings.DELIVERY_MAX_ATTEMPTS = 4
    settings.DELIVERY_TEST_HOOK_DIR = ""
    yield backend
    backend.stop()
