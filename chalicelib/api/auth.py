"""Login, token refresh and logout."""

from __future__ import annotations

from chalicelib.api.framework import Api, Request
from chalicelib.db.store import default_store
from chalicelib.models.auth import LoginIn, RefreshIn, Tokens
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
    return _service(req).login(body.tenant, body.email, body.password, client=req.client_ip)


@api.route("/auth/refresh", "POST", auth=False, body=RefreshIn, response=Tokens, errors=(401,))
def refresh(req: Request, body: RefreshIn) -> Tokens:
    """Rotate the refresh token; reusing a spent one revokes the whole login."""
    return _service(req).refresh(body.refresh_token)


@api.route("/auth/logout", "POST", auth=False, body=RefreshIn, status=204, errors=(401,))
def logout(req: Request, body: RefreshIn) -> None:
    """End the login the refresh token belongs to."""
    _service(req).logout(body.refresh_token)
