"""Template context every page needs about the person looking at it."""

from salesai.roles import is_manager


def roles(request) -> dict:
    return {"is_manager": is_manager(getattr(request, "user", None))}
