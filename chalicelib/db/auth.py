"""Login attempt counters and refresh-token families."""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.operand import Path

from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import MainItem, is_condition_failure
from chalicelib.db.users import CredentialItem
from chalicelib.models.auth import Credential, Lockout, LoginWindow


class LoginCounterItem(MainItem, discriminator="login_throttle"):
    """Login attempts on one account in one long window: ``failures`` counts them for the
    account; one ``c#<client>#<short window>`` attribute per client address counts that
    address's. Not audited; TTL removes it after its window."""

    failures = NumberAttribute(null=True)


class FamilyItem(MainItem, discriminator="token_family"):
    """One login: the hash of its one live refresh token. Reuse of a spent one revokes it."""

    user_id = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    revoked = BooleanAttribute(default=False)


class AuthRepository:
    def __init__(self, tenant_id: str, actor: Actor) -> None:
        self.tenant_id = tenant_id
        self.actor = actor

    # -- login attempts --------------------------------------------------------------------
    def credential(self, email: str) -> Credential | None:
        """The password hash of one (tenant, email): ONE GetItem, strongly consistent."""
        try:
            pk, sk = keys.credential_key(self.tenant_id, email)
            item = CredentialItem.get(pk, sk, consistent_read=True)
        except (DoesNotExist, ValueError):
            return None
        return Credential(user_id=item.user_id, password_hash=item.password_hash)

    def count_attempt(self, email: str, window: LoginWindow) -> Lockout | None:
        """Count an attempt in the client's and the account's counters at once, unless one is
        full: ONE conditional UpdateItem (DynamoDB applies concurrent ones one at a time, so no
        more attempts than the limits ever get through). ``None``: counted."""
        pk, sk = keys.login_counter_key(self.tenant_id, email, window.account_window)
        client = Path([keys.login_client_counter(window.client, window.client_window)])
        failures = LoginCounterItem.failures
        try:
            LoginCounterItem(pk, sk).update(
                actions=[
                    failures.add(1),
                    client.add(1),
                    LoginCounterItem.type.set(LoginCounterItem),
                    LoginCounterItem.tenant_id.set(self.tenant_id),
                    LoginCounterItem.expires_at.set(window.expires),
                ],
                condition=(failures.does_not_exist() | (failures < window.account_limit))
                & (client.does_not_exist() | (client < window.client_limit)),
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            return self._lockout(pk, sk, window)
        return None

    def _lockout(self, pk: str, sk: str, window: LoginWindow) -> Lockout:
        """Which counter was full (one GetItem, only when an attempt is refused). A full
        account counter outlasts any client counter of its window, so it is the one named."""
        try:
            failures = LoginCounterItem.get(pk, sk, consistent_read=True).failures
        except DoesNotExist:  # pragma: no cover - the item that refused cannot be gone
            failures = None
        account = int(failures or 0) >= window.account_limit
        return Lockout(client=not account, account=account)

    def settle_success(self, email: str, window: LoginWindow) -> None:
        """A counted attempt succeeded: the client's counter starts again and the attempt is no
        longer a failure of the account. ONE UpdateItem on the item that counted it."""
        pk, sk = keys.login_counter_key(self.tenant_id, email, window.account_window)
        client = Path([keys.login_client_counter(window.client, window.client_window)])
        try:
            LoginCounterItem(pk, sk).update(
                actions=[LoginCounterItem.failures.add(-1), client.remove()],
                condition=LoginCounterItem.failures > 0,
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):  # the locks were lifted meanwhile: nothing to do
                raise

    def clear_locks(self, email: str) -> int:
        """Lift every login lock of the account (a password reset does): one Query of the
        account's partition and a batch delete of its counters. Answers how many went."""
        try:
            pk, _ = keys.credential_key(self.tenant_id, email)
        except ValueError:
            return 0
        counters = list(
            LoginCounterItem.query(
                pk,
                LoginCounterItem.sk.startswith(keys.login_counters_prefix()),
                consistent_read=True,
            )
        )
        with LoginCounterItem.batch_write() as batch:
            for item in counters:
                batch.delete(item)
        return len(counters)

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
