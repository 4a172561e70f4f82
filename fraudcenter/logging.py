"""Log hygiene and shape: phone numbers never reach the logs, whatever a message carries;
production logs are JSON lines with the request id, carried into Celery tasks."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_plus

import structlog

# +7 916 123-45-67, 89161234567, 7(916)1234567 ... : ten or more digits with separators,
# standing alone: not the digits of a UUID (request and task ids), of a decimal (0.0030505656),
# of a date before a time (2026-11-28 05:51:35: the run may not end where a ":" follows) or of
# a longer word, which must stay readable.
_PHONE = re.compile(
    r"(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"
    r"|(?<![\w.])(?P<phone>\+?\d[\d\s()\-]{8,}\d)(?!\w|\.\d|:\d)"
)


def mask_phones(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group("uuid"):
            return m.group("uuid")
        digits = re.sub(r"\D", "", m.group("phone"))
        if len(digits) < 10:
            return m.group("phone")
        return "***" + digits[-2:]

    return _PHONE.sub(repl, text)


class MaskPhoneNumbersFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            return True  # a structlog event: mask_event() masks it key by key
        msg = record.getMessage()
        # Request lines carry query strings: ?phone=%2B7%20916... must be masked too.
        masked = mask_phones(unquote_plus(msg) if "%" in msg else msg)
        if masked != msg:
            record.msg, record.args = masked, None
        return True


# Keys whose values are personal data: dropped from structured events whatever their content.
_PII_KEYS = {"phone", "msisdn", "name", "subscriber_name", "text", "recipient"}


def mask_event(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(event.items()):
        if key in _PII_KEYS:
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = mask_phones(unquote_plus(value) if "%" in value else value)
    return event


def logging_config(*, json_logs: bool, level: str) -> dict[str, Any]:
    """The LOGGING dict: stdlib and structlog records go through one formatter."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json_logs
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"mask_pii": {"()": "fraudcenter.logging.MaskPhoneNumbersFilter"}},
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    mask_event,
                    renderer,
                ],
                "foreign_pre_chain": shared,
            }
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["mask_pii"],
                "formatter": "structured",
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "smpp": {"level": "WARNING"},  # smpplib logs every connect and PDU
            # runserver's request lines carry query strings (?phone=...): masked by the filter.
            "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
