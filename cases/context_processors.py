from .roles import Role, user_roles


def roles(request) -> dict:
    names = user_roles(getattr(request, "user", None))
    return {
        "roles": names,
        "is_specialist": Role.SPECIALIST in names,
        "is_supervisor": Role.SUPERVISOR in names,
        "is_manager": Role.MANAGER in names,
    }
