"""The Standard Webhooks secret check, importable from settings (no models, no Django setup)."""

from __future__ import annotations

import base64

from django.core.exceptions import ImproperlyConfigured
from standardwebhooks.webhooks import Webhook


def check_secret(secret: str, setting: str) -> None:
    """A `whsec_` secret that standardwebhooks accepts (24+ random bytes), or
    ImproperlyConfigured naming the setting."""
    try:
        if len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) < 24:
            raise ValueError(setting)
        if not secret.startswith("whsec_"):
            raise ValueError(setting)
        Webhook(secret)  # the receivers' library takes it as it is
    except Exception as exc:
        raise ImproperlyConfigured(
            f"{setting} must be a Standard Webhooks secret: whsec_ + base64 of 24+ random "
            "bytes (make webhook-secret prints one)."
        ) from exc
