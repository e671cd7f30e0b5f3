"""Users of the caller's tenant."""

from __future__ import annotations

from chalicelib.api.framework import Api, Request
from chalicelib.db.store import default_store
from chalicelib.models.common import Page
from chalicelib.models.users import CreateUserIn, Role, User, UserListQuery, UserPatchIn
from chalicelib.services.users import UserService

api = Api(__name__, tag="users")


def _service(req: Request) -> UserService:
    store = default_store()
    repo = store.users(req.user.tenant_id, req.user.actor)
    return UserService(req.user, repo, clock=store.clock)


@api.route("/users/me", response=User)
def get_me(req: Request) -> User:
    """The caller."""
    return _service(req).me()


@api.route(
    "/users",
    "POST",
    body=CreateUserIn,
    response=User,
    status=201,
    roles=(Role.admin,),
    errors=(409,),
)
def create_user(req: Request, body: CreateUserIn) -> User:
    """Create a user in the tenant (admin); the new user is sent a welcome email."""
    return _service(req).create(body)


@api.route("/users", query=UserListQuery, response=Page[User])
def list_users(req: Request, query: UserListQuery) -> Page[User]:
    """List users (admin: any role; others: role=instructor only)."""
    return _service(req).list(query.role, query.limit, query.cursor)


@api.route("/users/{user_id}", response=User, errors=(404,))
def get_user(req: Request, user_id: str) -> User:
    """One user (admin, or the user themself)."""
    return _service(req).get(user_id)


@api.route("/users/{user_id}", "PATCH", body=UserPatchIn, response=User, errors=(404, 409))
def update_user(req: Request, user_id: str, body: UserPatchIn) -> User:
    """Change a user (admin: name, role, active; the user themself: name)."""
    return _service(req).update(user_id, body)
