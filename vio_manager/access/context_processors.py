from vio_manager.access.roles import ADMIN, OPERATOR, RANK, role_of


def roles(request):
    """user_role, can_operate, can_admin: templates show only the buttons the user may use."""
    role = role_of(getattr(request, "user", None))
    rank = RANK.get(role, 0)
    return {"user_role": role, "can_operate": rank >= RANK[OPERATOR], "can_admin": rank >= RANK[ADMIN]}
