"""SMS backends, chosen by settings.SMS_BACKEND like Django's e-mail backends."""

from __future__ import annotations

import os

from django.conf import settings
from django.utils.module_loading import import_string

from .base import BaseSmsBackend

_instance: tuple[int, str, BaseSmsBackend] | None = None


def get_backend(path: str | None = None) -> BaseSmsBackend:
    """One backend per process (an SMPP session is not shared across forks or threads)."""
    global _instance
    path = path or settings.SMS_BACKEND
    pid = os.getpid()
    if _instance is not None and _instance[0] == pid and _instance[1] == path:
        return _instance[2]
    backend = import_string(path)()
    _instance = (pid, path, backend)
    return backend


def reset_backend() -> None:
    global _instance
    if _instance is not None and _instance[0] == os.getpid():
        _instance[2].close()
    _instance = None
