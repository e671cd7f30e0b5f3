"""Users and their credentials (one credential item per tenant and email: the uniqueness claim)."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import MainItem, is_condition_failure, stamp_actions
from chalicelib.db.pages import decode_cursor, encode_cursor
from chalicelib.db.transactions import Cancelled, Transaction
from chalicelib.errors import Conflict, NotFound
from chalicelib.models.common import Page
from chalicelib.models.scheduling import UNSET, Unset
from chalicelib.models.users import Access, Role, User


class UserItem(MainItem, discriminator="user"):
    user_id = UnicodeAttribute(attr_name="id")
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    active = BooleanAttribute(default=True)
    version = VersionAttribute()
    #: Every token of the user carries the value it had when issued; raising it ends every
    #: login at once (deactivation, "end all sessions"). Absent on users made before it: 0.
    auth_version = NumberAttribute(null=True)
    #: Invited and not yet accepted: no password, cannot log in (absent: false).
    invitation_pending = BooleanAttribute(null=True)
    #: When the latest invitation was sent, and when the password last changed (audited
    #: facts of the account; the change also emails the user).
    invitation_sent_at = UnicodeAttribute(null=True)
    #: Stored as ``pw_changed_at``: the change stream drops attributes named like secrets.
    password_changed_at = UnicodeAttribute(null=True, attr_name="pw_changed_at")
    #: The user's own IANA time zone (null: the tenant's).
    time_zone = UnicodeAttribute(null=True)

    @classmethod
    def new(cls, user: User, password_hash: str, actor: Actor) -> tuple[UserItem, CredentialItem]:
        pk, sk = keys.user_key(user.tenant_id, user.id)
        item = cls(
            pk,
            sk,
            tenant_id=user.tenant_id,
            user_id=user.id,
            email=user.email,
            name=user.name,
            role=user.role.value,
            active=user.active,
            invitation_pending=True if user.invitation_pending else None,
            gsi1pk=keys.users_index_pk(user.tenant_id),
            gsi1sk=keys.users_index_sk(user.role.value, user.id),
        )
        item.stamp(actor, created=True)
        c_pk, c_sk = keys.credential_key(user.tenant_id, user.email)
        cred = CredentialItem(
            c_pk,
            c_sk,
            tenant_id=user.tenant_id,
            user_id=user.id,
            password_hash=password_hash,
        )
        cred.stamp(actor, created=True)
        return item, cred


class CredentialItem(MainItem, discriminator="credential"):
    """Secret: never leaves the data layer, and the audit log strips ``password_hash``."""

    user_id = UnicodeAttribute()
    password_hash = UnicodeAttribute()


def _access_of(item: UserItem) -> Access:
    return Access(
        role=Role(item.role), active=bool(item.active), auth_version=int(item.auth_version or 0)
    )


def access_of(item: UserItem) -> Access:
    """The user's current role, status and authorization version, as stored."""
    return _access_of(item)


def user_from_item(item: UserItem) -> User:
    return User(
        id=item.user_id,
        tenant_id=item.tenant_id or "",
        email=item.email,
        name=item.name,
        role=Role(item.role),
        active=bool(item.active),
        created_at=item.created_at,
        invitation_pending=bool(item.invitation_pending),
        time_zone=item.time_zone,
    )


class UserRepository:
    """Users of one tenant."""

    def __init__(self, tenant_id: str, actor: Actor) -> None:
        self.tenant_id = tenant_id
        self.actor = actor

    def create(self, user: User, password_hash: str) -> User:
        """User and credential in one transaction; a taken email (in this tenant) is a 409."""
        item, cred = UserItem.new(user, password_hash, self.actor)
        try:
            with Transaction() as tx:
                tx.save("user", item, UserItem.pk.does_not_exist())
                tx.save("credential", cred, CredentialItem.pk.does_not_exist())
        except Cancelled as exc:
            if exc.failed("credential") or exc.failed("user"):
                raise Conflict("A user with that email already exists.") from exc
            raise
        return user_from_item(item)

    def _get_item(self, user_id: str, *, consistent: bool = False) -> UserItem:
        try:
            pk, sk = keys.user_key(self.tenant_id, user_id)
            return UserItem.get(pk, sk, consistent_read=consistent)
        except (DoesNotExist, ValueError) as exc:
            raise NotFound("user") from exc

    def get(self, user_id: str, *, consistent: bool = False) -> User:
        return user_from_item(self._get_item(user_id, consistent=consistent))

    def find(self, user_id: str) -> User | None:
        try:
            return self.get(user_id)
        except NotFound:
            return None

    def access(self, user_id: str, *, consistent: bool) -> Access | None:
        """The user's current role, status and authorization version: ONE GetItem (None when
        the user does not exist)."""
        try:
            item = self._get_item(user_id, consistent=consistent)
        except NotFound:
            return None
        return _access_of(item)

    def revoke_sessions(self, user_id: str) -> Access:
        """End every login of the user at once: raise the authorization version that every
        token (access and refresh) must carry. A GetItem and a conditional UpdateItem (on the
        user's version; a racing change of the user is read again)."""
        for _ in range(3):
            item = self._get_item(user_id, consistent=True)
            try:
                item.update(actions=[*stamp_actions(self.actor), UserItem.auth_version.add(1)])
            except UpdateError as exc:
                if is_condition_failure(exc):
                    continue
                raise
            return _access_of(item)
        raise Conflict("The user changed meanwhile; try again.")

    def update(
        self,
        user_id: str,
        *,
        name: str | None = None,
        role: Role | None = None,
        active: bool | None = None,
        time_zone: str | None | Unset = UNSET,
    ) -> User:
        item = self._get_item(user_id, consistent=True)
        actions = stamp_actions(self.actor)
        if time_zone is None:
            actions.append(UserItem.time_zone.remove())
        elif not isinstance(time_zone, Unset):
            actions.append(UserItem.time_zone.set(time_zone))
        if name is not None:
            actions.append(UserItem.name.set(name))
        if role is not None:
            actions.append(UserItem.role.set(role.value))
            actions.append(UserItem.gsi1sk.set(keys.users_index_sk(role.value, user_id)))
        if active is not None:
            actions.append(UserItem.active.set(active))
            if not active and item.active:
                actions.append(UserItem.auth_version.add(1))  # its tokens die with it
        try:
            item.update(actions=actions)
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise Conflict("The user changed meanwhile; read it again and retry.") from exc
            raise
        return user_from_item(item)

    def list(self, *, role: Role | None, limit: int, cursor: str | None) -> Page[User]:
        """One Query on gsi1 per page; the role filter is a key prefix, not a post-read filter."""
        scope = f"users:{role.value if role else '*'}"
        start = decode_cursor(cursor, tenant_id=self.tenant_id, scope=scope)
        condition = (
            UserItem.gsi1sk.startswith(keys.users_index_role_prefix(role.value)) if role else None
        )
        results = UserItem.gsi1.query(
            keys.users_index_pk(self.tenant_id),
            range_key_condition=condition,
            limit=limit,
            last_evaluated_key=start,
        )
        items = [user_from_item(i) for i in results if isinstance(i, UserItem)]
        return Page[User](
            items=items,
            next_cursor=encode_cursor(
                results.last_evaluated_key, tenant_id=self.tenant_id, scope=scope
            ),
        )
