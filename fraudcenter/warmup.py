"""What a new gunicorn worker would otherwise build on its first requests, built once in the
master before the fork (deploy/gunicorn.conf.py: `preload_app`, `when_ready`).

A cold worker's first case page cost 211 CPU ms instead of 17, its first intake form 90
instead of 5: compiling templates, filling the URL resolver, loading the translation
catalog. When the four workers reached `max_requests` within seconds of each other at 2,000
specialists, that held up every request for a second (bench/RESULTS.md). None of it needs
a connection, so nothing is shared across the fork."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines
from django.urls import get_resolver
from django.utils import translation

logger = logging.getLogger(__name__)


def warm_up() -> int:
    """Compile every template of every engine, fill the URL resolver and load the default
    language's catalog. Returns how many templates were compiled."""
    with translation.override(settings.LANGUAGE_CODE):
        translation.gettext("Обращение")
    get_resolver().reverse_dict  # noqa: B018  # the property fills the resolver's lookups
    compiled = 0
    for engine in engines.all():
        for directory in engine.template_dirs:
            root = Path(directory)
            for path in sorted(root.rglob("*.html")) + sorted(root.rglob("*.txt")):
                try:
                    engine.get_template(path.relative_to(root).as_posix())
                except (TemplateDoesNotExist, TemplateSyntaxError):
                    continue  # another engine's template in a shared folder
                compiled += 1
    return compiled


def warm_worker() -> None:
    """In a new worker, before it accepts a request (gunicorn's `post_worker_init`): its own
    database connection, and the process's kept categories and playbook steps, which its
    first case openings and case pages would otherwise read."""
    from playbooks.selectors import keep_current_playbooks

    try:
        connection.ensure_connection()
        keep_current_playbooks()
    except DatabaseError:
        # Only a head start: a worker that raised here would fail to boot, and gunicorn
        # stops the master when workers fail to boot. Without the database it serves what
        # it can (healthz says what is wrong) and reads these on first use.
        logger.warning("warm-up: no database yet", exc_info=True)
