"""Reads of playbooks shared by every way into a case (pages, API, calls, chat)."""

from __future__ import annotations

from django.db.models import F

from .models import PlaybookVersion, Step

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


def forget_frozen_steps() -> None:
    """For tests: their rolled-back databases hand out the same ids again."""
    _FROZEN_STEPS.clear()
