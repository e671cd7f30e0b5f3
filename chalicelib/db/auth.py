"""Login throttling and refresh-token families."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import MainItem, is_condition_failure
from chalicelib.db.users import CredentialItem
from chalicelib.models.auth import Credential, Throttle


class ThrottleItem(MainItem, discriminator="login_throttle"):
    """Failed logins of one (tenant, email) inside the current window. Not audited."""

    failures = NumberAttribute(default=0)
    window_started = NumberAttribute(default=0)


class FamilyItem(MainItem, discriminator="token_family"):
    """One login: the hash of its one live refresh token. Reuse of a spent one revokes it."""

    user_id = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    revoked = BooleanAttribute(default=False)


class AuthRepository:
    def __init__(self, tenant_id: str, actor: Actor) -> None:
        self.tenant_id = tenant_id
        self.actor = actor

    # -- login throttle ------------------------------------------------------------------
    def login_state(self, email: str) -> tuple[Credential | None, Throttle]:
        """The credential and the failure counter of one (tenant, email): ONE Query.

        Both items share the email's partition, so a login reads them together.
        """
        try:
            pk, _ = keys.credential_key(self.tenant_id, email)
        except ValueError:
            return None, Throttle(failures=0, window_started=0)
        credential: Credential | None = None
        throttle = Throttle(failures=0, window_started=0)
        for item in MainItem.query(pk, consistent_read=True):
            if isinstance(item, CredentialItem):
                credential = Credential(user_id=item.user_id, password_hash=item.password_hash)
            elif isinstance(item, ThrottleItem):
                throttle = Throttle(
                    failures=int(item.failures), window_started=float(item.window_started)
                )
        return credential, throttle

    def record_failure(self, email: str, *, now: datetime, window: timedelta) -> Throttle:
        """Count a failure atomically; a window that has passed starts again at one."""
        pk, sk = keys.login_throttle_key(self.tenant_id, email)
        ts = now.timestamp()
        expires = now + window
        item = ThrottleItem(pk, sk)
        try:
            item.update(
                actions=[
                    ThrottleItem.failures.add(1),
                    ThrottleItem.type.set(ThrottleItem),
                    ThrottleItem.tenant_id.set(self.tenant_id),
                    ThrottleItem.expires_at.set(expires),
                ],
                condition=ThrottleItem.window_started > ts - window.total_seconds(),
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            item.update(
                actions=[
                    ThrottleItem.failures.set(1),
                    ThrottleItem.window_started.set(ts),
                    ThrottleItem.type.set(ThrottleItem),
                    ThrottleItem.tenant_id.set(self.tenant_id),
                    ThrottleItem.expires_at.set(expires),
                ]
            )
        return Throttle(failures=int(item.failures), window_started=float(item.window_started))

    def clear_failures(self, email: str) -> None:
        pk, sk = keys.login_throttle_key(self.tenant_id, email)
        ThrottleItem(pk, sk).delete()

    # -- refresh token families ---------------------------------------------------------
    def start_family(
        self, family_id: str, user_id: str, token_hash: str, expires: datetime
    ) -> None:
        pk, sk = keys.token_family_key(self.tenant_id, family_id)
        item = FamilyItem(
            pk,
            sk,
            tenant_id=self.tenant_id,
            user_id=user_id,
            token_hash=token_hash,
            revoked=False,
            expires_at=expires,
        )
        item.stamp(self.actor, created=True)
        item.save(condition=FamilyItem.pk.does_not_exist())

    def rotate(self, family_id: str, presented_hash: str, new_hash: str, expires: datetime) -> bool:
        """Swap the live token hash if the presented one is live. False: spent or revoked."""
        pk, sk = keys.token_family_key(self.tenant_id, family_id)
        item = FamilyItem(pk, sk)
        try:
            item.update(
                actions=[
                    FamilyItem.token_hash.set(new_hash),
                    FamilyItem.expires_at.set(expires),
                ],
                condition=(FamilyItem.token_hash == presented_hash) & (FamilyItem.revoked == False),  # noqa: E712 (a DynamoDB condition)
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def revoke(self, family_id: str) -> None:
        pk, sk = keys.token_family_key(self.tenant_id, family_id)
        try:
            FamilyItem(pk, sk).update(
                actions=[FamilyItem.revoked.set(True)], condition=FamilyItem.pk.exists()
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
