"""Reads of playbooks shared by every way into a case (pages, API, calls, chat)."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction
from django.db.models import F

from .models import Category, PlaybookVersion, Step

# (when read, time.monotonic(); the active categories by slug)
_categories: tuple[float, dict[str, Category]] | None = None

# version id -> its steps in order, for versions that can no longer change.
_FROZEN_STEPS: dict[int, tuple[Step, ...]] = {}
_FROZEN_STEPS_MAX = 1024


def version_steps(version_id: int) -> list[Step]:
    """A version's steps in order. A published version never changes again (not even once it
    is archived: `Step.assert_editable`), and it is what cases pin: its steps are read once
    per process, not once per case opened, case page or step recorded. A draft's steps are
    read every time (the editor is changing them). Treat the steps as read-only."""
    steps = _FROZEN_STEPS.get(version_id)
    if steps is None:
        steps = tuple(
            Step.objects.filter(version_id=version_id)
            .annotate(version_status=F("version__status"))
            .order_by("position")
        )
        if not steps or any(s.version_status == PlaybookVersion.Status.DRAFT for s in steps):
            return list(steps)
        if len(_FROZEN_STEPS) >= _FROZEN_STEPS_MAX:
            _FROZEN_STEPS.clear()
        _FROZEN_STEPS[version_id] = steps
    return list(steps)


def forget_kept() -> None:
    """For tests: their rolled-back databases hand out the same ids and slugs again."""
    global _categories
    _FROZEN_STEPS.clear()
    _categories = None


def active_category(slug: str) -> Category | None:
    """An active category with its playbook and current version, as a case opened now pins
    it. Every API case opening looked its category up (a three-table query); they change
    only when someone edits a category or publishes a version, so each process keeps them
    CATEGORY_CACHE_SECONDS (another process sees an edit that much later; this one at once).
    Treat the category as read-only."""
    return _active_categories().get(slug)


def _active_categories() -> dict[str, Category]:
    global _categories
    now = time.monotonic()
    if _categories is None or now - _categories[0] >= settings.CATEGORY_CACHE_SECONDS:
        found = Category.objects.active().select_related("playbook__current_version")
        _categories = (now, {c.slug: c for c in found})
    return _categories[1]


def keep_current_playbooks() -> None:
    """Read the active categories and their current versions' steps into this process now
    (a new web worker, before its first request: fraudcenter.warmup)."""
    for category in _active_categories().values():
        playbook = getattr(category, "playbook", None)
        if playbook is not None and playbook.current_version_id:
            version_steps(playbook.current_version_id)


def forget_categories(**_kwargs: object) -> None:
    """After an edit of a category, a playbook or a version: read again, now (inside the
    writing transaction it sees its own change) and once it commits."""
    global _categories
    _categories = None

    def again() -> None:
        global _categories
        _categories = None

    transaction.on_commit(again)
