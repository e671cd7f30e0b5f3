"""Users of the caller's tenant."""

from __future__ import annotations

from chalicelib.api.framework import Api, Request
from chalicelib.db.store import default_store
from chalicelib.models.auth import Accepted, ChangePasswordIn
from chalicelib.models.common import Page
from chalicelib.models.users import CreateUserIn, Role, User, UserListQuery, UserPatchIn
from chalicelib.services.accounts import AccountService
from chalicelib.services.users import UserService

api = Api(__name__, tag="users")


def _service(req: Request) -> UserService:
    store = default_store()
    repo = store.users(req.user.tenant_id, req.user.actor)
    return UserService(req.user, repo, clock=store.clock)


def _accounts(req: Request) -> AccountService:
    store = default_store()
    return AccountService(store, correlation_id=req.correlation_id, clock=store.clock)


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
    """Create a user (admin): with a password they are welcomed by email, without one they are
    invited to choose their own."""
    return _accounts(req).create_user(req.user, body)


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


# --- account lifecycle -------------------------------------------------------------------------
@api.route(
    "/users/me/password",
    "POST",
    body=ChangePasswordIn,
    status=204,
    errors=(403, 429),
)
def change_password(req: Request, body: ChangePasswordIn) -> None:
    """Change the caller's password (the current one is required); other logins end."""
    _accounts(req).change_password(
        req.user, body.current_password, body.new_password, client=req.client_ip
    )


@api.route(
    "/users/{user_id}/invitation",
    "POST",
    response=Accepted,
    status=202,
    roles=(Role.admin,),
    errors=(404, 409),
)
def resend_invitation(req: Request, user_id: str) -> Accepted:
    """Send a user who has not accepted yet a new invitation; the previous link stops working."""
    _accounts(req).resend_invitation(req.user, user_id)
    return Accepted()


@api.route(
    "/users/{user_id}/sessions/revoke",
    "POST",
    status=204,
    roles=(Role.admin,),
    errors=(404,),
)
def revoke_sessions(req: Request, user_id: str) -> None:
    """End every login of a user (admin); their access tokens stop working at once."""
    _accounts(req).end_all_sessions(req.user, user_id)
