"""Login, token refresh and logout."""

from __future__ import annotations

from chalicelib.api.framework import Api, Request
from chalicelib.db.store import default_store
from chalicelib.models.auth import (
    Accepted,
    AcceptInvitationIn,
    ForgotPasswordIn,
    LoginIn,
    RefreshIn,
    ResetPasswordIn,
    Session,
    Tokens,
)
from chalicelib.models.common import ListQuery, Page
from chalicelib.services.accounts import AccountService
from chalicelib.services.auth import AuthService

api = Api(__name__, tag="auth")


def _service(req: Request) -> AuthService:
    store = default_store()
    return AuthService(store, correlation_id=req.correlation_id, clock=store.clock)


@api.route(
    "/auth/login",
    "POST",
    auth=False,
    body=LoginIn,
    response=Tokens,
    errors=(401, 429),
)
def login(req: Request, body: LoginIn) -> Tokens:
    """Exchange tenant slug, email and password for tokens."""
    return _service(req).login(
        body.tenant,
        body.email,
        body.password,
        client=req.client_ip,
        user_agent=req.headers.get("user-agent"),
    )


@api.route("/auth/refresh", "POST", auth=False, body=RefreshIn, response=Tokens, errors=(401,))
def refresh(req: Request, body: RefreshIn) -> Tokens:
    """Rotate the refresh token; reusing a spent one revokes the whole login."""
    return _service(req).refresh(body.refresh_token)


@api.route("/auth/logout", "POST", auth=False, body=RefreshIn, status=204, errors=(401,))
def logout(req: Request, body: RefreshIn) -> None:
    """End the login the refresh token belongs to."""
    _service(req).logout(body.refresh_token)


# --- account lifecycle -------------------------------------------------------------------------
def _accounts(req: Request) -> AccountService:
    store = default_store()
    return AccountService(store, correlation_id=req.correlation_id, clock=store.clock)


@api.route(
    "/auth/invitation/accept",
    "POST",
    auth=False,
    body=AcceptInvitationIn,
    response=Tokens,
    errors=(400,),
)
def accept_invitation(req: Request, body: AcceptInvitationIn) -> Tokens:
    """Accept an invitation: choose a password and log in for the first time."""
    return _accounts(req).accept_invitation(
        body.tenant, body.token, body.password, user_agent=req.headers.get("user-agent")
    )


@api.route(
    "/auth/password/forgot",
    "POST",
    auth=False,
    body=ForgotPasswordIn,
    response=Accepted,
    status=202,
)
def forgot_password(req: Request, body: ForgotPasswordIn) -> Accepted:
    """Ask for a password-reset email (the same answer whether or not the account exists)."""
    _accounts(req).forgot_password(body.tenant, body.email)
    return Accepted()


@api.route(
    "/auth/password/reset",
    "POST",
    auth=False,
    body=ResetPasswordIn,
    response=Tokens,
    errors=(400,),
)
def reset_password(req: Request, body: ResetPasswordIn) -> Tokens:
    """Set a new password with a reset link; every other login ends and every lock lifts."""
    return _accounts(req).reset_password(
        body.tenant, body.token, body.password, user_agent=req.headers.get("user-agent")
    )


@api.route("/auth/sessions", query=ListQuery, response=Page[Session])
def list_sessions(req: Request, query: ListQuery) -> Page[Session]:
    """The caller's live logins (the one this token belongs to is marked current)."""
    return _accounts(req).sessions(req.user, query.limit, query.cursor)


@api.route("/auth/sessions/{session_id}", "DELETE", status=204, errors=(404,))
def end_session(req: Request, session_id: str) -> None:
    """End one of the caller's logins: it can no longer refresh."""
    _accounts(req).end_session(req.user, session_id)
