"""Login attempt counters and refresh-token families (logins, "sessions").

Key design of logins: a family item lives at ``T#<tid>#FAMILY#<fid>`` / ``FAMILY`` (refresh
finds it from the token's ``fam`` claim with one GetItem), and while live it also carries the
user-partitioned sessions index key on gsi1 (``T#<tid>#USER#<uid>#SESSIONS`` /
``FAMILY#<fid>``): listing a user's logins, or ending them all, is one Query of that sparse
index. Ending one login removes the index key, so ended logins never come back in a list.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.operand import Path

from chalicelib.clock import iso
from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import MainItem, is_condition_failure
from chalicelib.db.pages import decode_cursor, encode_cursor
from chalicelib.db.users import CredentialItem
from chalicelib.models.auth import Credential, Family, Lockout, LoginWindow


class LoginCounterItem(MainItem, discriminator="login_throttle"):
    """Login attempts on one account in one long window: ``failures`` counts them for the
    account; one ``c#<client>#<short window>`` attribute per client address counts that
    address's. Not audited; TTL removes it after its window."""

    failures = NumberAttribute(null=True)


class FamilyItem(MainItem, discriminator="token_family"):
    """One login (session): the hash of its one live refresh token. Reuse of a spent one
    revokes it, except within the grace period after its rotation (``previous_hash``,
    ``rotated_at``). ``expires_at`` is the login's end, however often it is refreshed.

    While live, a family carries the user's sessions index key (gsi1: ``T#<tid>#USER#<uid>
    #SESSIONS`` / ``FAMILY#<fid>``), so a user's logins are one Query; ending a login removes
    it (a sparse index: ended logins are never read again)."""

    user_id = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    revoked = BooleanAttribute(default=False)
    previous_hash = UnicodeAttribute(null=True)
    rotated_at = NumberAttribute(null=True)
    #: The authorization version the family's next tokens carry (a password change moves the
    #: changing login along while every other login of the user falls behind).
    auth_version = NumberAttribute(null=True)
    last_used_at = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)


def _family_of(item: FamilyItem, family_id: str) -> Family:
    created = _parse_time(item.created_at) or datetime.now(UTC)
    ends = item.expires_at or created
    return Family(
        id=family_id,
        user_id=item.user_id,
        token_hash=item.token_hash,
        previous_hash=item.previous_hash,
        rotated_at=float(item.rotated_at) if item.rotated_at is not None else None,
        auth_version=int(item.auth_version) if item.auth_version is not None else None,
        revoked=bool(item.revoked),
        created_at=created,
        ends_at=ends if ends.tzinfo else ends.replace(tzinfo=UTC),
        last_used_at=_parse_time(item.last_used_at),
        user_agent=item.user_agent,
    )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
        self,
        family_id: str,
        user_id: str,
        token_hash: str,
        expires: datetime,
        *,
        auth_version: int = 0,
        user_agent: str | None = None,
    ) -> None:
        """A new login: ONE conditional PutItem. ``expires``: when the login ends."""
        pk, sk = keys.token_family_key(self.tenant_id, family_id)
        item = FamilyItem(
            pk,
            sk,
            tenant_id=self.tenant_id,
            user_id=user_id,
            token_hash=token_hash,
            revoked=False,
            auth_version=auth_version,
            user_agent=user_agent,
            expires_at=expires,
            gsi1pk=keys.user_sessions_index_pk(self.tenant_id, user_id),
            gsi1sk=keys.user_sessions_index_sk(family_id),
        )
        item.stamp(self.actor, created=True)
        item.last_used_at = item.created_at
        item.save(condition=FamilyItem.pk.does_not_exist())

    def family(self, family_id: str) -> Family | None:
        """The login as stored now: ONE strongly consistent GetItem."""
        try:
            pk, sk = keys.token_family_key(self.tenant_id, family_id)
            item = FamilyItem.get(pk, sk, consistent_read=True)
        except (DoesNotExist, ValueError):
            return None
        return _family_of(item, family_id)

    def rotate(
        self,
        family_id: str,
        presented_hash: str,
        new_hash: str,
        *,
        now: datetime,
        auth_version: int,
    ) -> bool:
        """Swap the live token hash if the presented one is still live and the login has not
        ended: ONE conditional UpdateItem (concurrent rotations of one token: one wins). The
        spent hash and the rotation's time are kept for the grace period. False: it lost."""
        pk, sk = keys.token_family_key(self.tenant_id, family_id)
        try:
            FamilyItem(pk, sk).update(
                actions=[
                    FamilyItem.token_hash.set(new_hash),
                    FamilyItem.previous_hash.set(presented_hash),
                    # Milliseconds cut, never rounded: the successor carries the whole second,
                    # and rounding up from x.9995 s would name the next one.
                    FamilyItem.rotated_at.set(math.floor(now.timestamp() * 1000) / 1000),
                    FamilyItem.auth_version.set(auth_version),
                    FamilyItem.last_used_at.set(iso(now)),
                ],
                condition=(FamilyItem.token_hash == presented_hash)
                & (FamilyItem.revoked == False)  # noqa: E712 (a DynamoDB condition)
                & (FamilyItem.expires_at > now),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def revoke(self, family_id: str, *, user_id: str | None = None) -> bool:
        """End a login (ONE conditional UpdateItem): it can never refresh again and leaves the
        user's sessions index. With ``user_id``, only a login of that user. False: no such
        login (or not theirs)."""
        pk, sk = keys.token_family_key(self.tenant_id, family_id)
        condition = FamilyItem.pk.exists()
        if user_id is not None:
            condition = condition & (FamilyItem.user_id == user_id)
        try:
            FamilyItem(pk, sk).update(
                actions=[
                    FamilyItem.revoked.set(True),
                    FamilyItem.gsi1pk.remove(),
                    FamilyItem.gsi1sk.remove(),
                ],
                condition=condition,
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            return False
        return True

    def sessions(
        self, user_id: str, *, limit: int, cursor: str | None
    ) -> tuple[list[Family], str | None]:
        """The user's live logins, oldest first: ONE Query of the sparse sessions index per page
        (eventually consistent)."""
        scope = f"sessions:{user_id}"
        start = decode_cursor(cursor, tenant_id=self.tenant_id, scope=scope)
        results = FamilyItem.gsi1.query(
            keys.user_sessions_index_pk(self.tenant_id, user_id),
            limit=limit,
            last_evaluated_key=start,
        )
        found = [
            _family_of(item, item.pk.rsplit("#", 1)[-1])
            for item in results
            if isinstance(item, FamilyItem)
        ]
        return found, encode_cursor(
            results.last_evaluated_key, tenant_id=self.tenant_id, scope=scope
        )

    def end_all(self, user_id: str, *, keep: str | None = None) -> int:
        """End every login of the user (but ``keep``): one Query of the sessions index per 100
        logins and a BatchWriteItem per 25 (the families go; their tokens cannot refresh)."""
        ended = 0
        last: dict[str, Any] | None = None
        while True:
            results = FamilyItem.gsi1.query(
                keys.user_sessions_index_pk(self.tenant_id, user_id),
                limit=100,
                last_evaluated_key=last,
            )
            items = [
                i
                for i in results
                if isinstance(i, FamilyItem) and (keep is None or i.pk.rsplit("#", 1)[-1] != keep)
            ]
            with FamilyItem.batch_write() as batch:
                for item in items:
                    batch.delete(item)
            ended += len(items)
            last = results.last_evaluated_key
            if not last:
                return ended
