from typing import Any

from django.conf import settings

from deliveries import push

from .access import may_see_personal_data
from .roles import Role, user_roles


def roles(request: Any) -> dict[str, Any]:
    user = getattr(request, "user", None)
    names = user_roles(user)
    return {
        # Templates show numbers, names and free text through case_tags' *_for filters.
        "mask_personal_data": bool(names) and not may_see_personal_data(user),
        "roles": names,
        "is_specialist": Role.SPECIALIST in names,
        "is_supervisor": Role.SUPERVISOR in names,
        "is_manager": Role.MANAGER in names,
        "screen_pop_seconds": settings.SCREEN_POP_POLL_SECONDS,
        # Pages that watch more (the case page: its chat) put their own push_url in the context.
        "push_url": push.url_for([f"pop:{user.pk}"]) if names and user else "",
        "push_fallback_seconds": settings.PUSH_FALLBACK_SECONDS,
    }
