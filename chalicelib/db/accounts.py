"""Account links (invitations, password resets), their throttle, and the writes that use them.

Key design:

* a link item per token, keyed by the token's SHA-256: ``T#<tid>#LINK#<sha256>`` / ``LINK``
  (presenting a token is one GetItem; the token itself is never stored). It holds whose link it
  is, what for, the random seed the email sender derives the token from, and its end
  (``expires_at``, a TTL attribute, also checked on use because TTL deletes late);
* a pointer per user and purpose in the user's partition: ``T#<tid>#USER#<uid>`` /
  ``LINK#<purpose>``, naming the current link's hash. A new link deletes the one the pointer
  names in the same transaction, which voids it;
* a reset-email counter per account and hour beside the account's credential and login
  counters: ``T#<tid>#EMAIL#<email>`` / ``RESET#<hour>``.

Using a link deletes its item on condition that it exists, in the transaction that makes the
change it allows: two uses of one token have one winner.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.auth.passwords import NO_PASSWORD
from chalicelib.clock import iso
from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.auth import FamilyItem
from chalicelib.db.base import MainItem, is_condition_failure, stamp_actions
from chalicelib.db.transactions import Cancelled, Transaction
from chalicelib.db.users import CredentialItem, UserItem, access_of, user_from_item
from chalicelib.errors import Conflict, InvalidToken, NotFound
from chalicelib.models.auth import Link
from chalicelib.models.users import Access, User


class AccountLinkItem(MainItem, discriminator="account_link"):
    """One link token (by its hash). Its INSERT on the stream emails the link; it is not
    audited. ``id`` is the user's id (what notifications and logs name)."""

    user_ref = UnicodeAttribute(attr_name="id")
    purpose = UnicodeAttribute()
    #: The random value the token is derived from with the application secret.
    seed = UnicodeAttribute()
    tenant_slug = UnicodeAttribute()
    valid_until = UnicodeAttribute()


class LinkPointerItem(MainItem, discriminator="account_link_pointer"):
    """The user's current link of one purpose (a newer one voids it)."""

    link_hash = UnicodeAttribute()


class ResetCounterItem(MainItem, discriminator="reset_throttle"):
    """Password-reset emails of one account in one hour. Not audited; TTL removes it."""

    sent = NumberAttribute(null=True)


class AccountRepository:
    """Links and the account changes they allow, for one tenant."""

    def __init__(self, tenant_id: str, actor: Actor) -> None:
        self.tenant_id = tenant_id
        self.actor = actor

    # -- links ---------------------------------------------------------------------------
    def _link_item(
        self,
        user_id: str,
        purpose: str,
        link_hash: str,
        seed: str,
        slug: str,
        expires: datetime,
    ) -> tuple[AccountLinkItem, LinkPointerItem]:
        pk, sk = keys.account_link_key(self.tenant_id, link_hash)
        link = AccountLinkItem(
            pk,
            sk,
            tenant_id=self.tenant_id,
            user_ref=user_id,
            purpose=purpose,
            seed=seed,
            tenant_slug=slug,
            valid_until=iso(expires),
            expires_at=expires,
        )
        link.stamp(self.actor, created=True)
        p_pk, p_sk = keys.account_link_pointer_key(self.tenant_id, user_id, purpose)
        pointer = LinkPointerItem(
            p_pk, p_sk, tenant_id=self.tenant_id, link_hash=link_hash, expires_at=expires
        )
        pointer.stamp(self.actor, created=True)
        return link, pointer

    def invite(self, user: User, link_hash: str, seed: str, slug: str, expires: datetime) -> User:
        """A new invited user, their password-less credential and their first invitation
        link: ONE transaction. A taken email is a 409."""
        item, credential = UserItem.new(user, NO_PASSWORD, self.actor)
        link, pointer = self._link_item(user.id, "invite", link_hash, seed, slug, expires)
        item.invitation_sent_at = link.created_at
        try:
            with Transaction() as tx:
                tx.save("user", item, UserItem.pk.does_not_exist())
                tx.save("credential", credential, CredentialItem.pk.does_not_exist())
                tx.save("link", link, AccountLinkItem.pk.does_not_exist())
                tx.save("pointer", pointer, LinkPointerItem.pk.does_not_exist())
        except Cancelled as exc:
            if exc.failed("credential") or exc.failed("user"):
                raise Conflict("A user with that email already exists.") from exc
            raise
        return user_from_item(item)

    def current_link_hash(self, user_id: str, purpose: str) -> str | None:
        """The hash of the user's current link of this purpose: ONE GetItem."""
        pk, sk = keys.account_link_pointer_key(self.tenant_id, user_id, purpose)
        try:
            return LinkPointerItem.get(pk, sk, consistent_read=True).link_hash
        except DoesNotExist:
            return None

    def resend_invitation(
        self, user_id: str, link_hash: str, seed: str, slug: str, expires: datetime
    ) -> None:
        """A new invitation link for a user who has not accepted yet; the previous one is
        voided. A GetItem of the user and of the pointer, then ONE transaction (new link,
        pointer, old link deleted, the user's ``invitation_sent_at``: an audited re-send).
        NotFound: no such user; Conflict: already accepted."""
        user = _user_item(self.tenant_id, user_id)
        if user is None:
            raise NotFound("user")
        if not user.invitation_pending:
            raise Conflict("The user has accepted their invitation already.")
        previous = self.current_link_hash(user_id, "invite")
        link, pointer = self._link_item(user_id, "invite", link_hash, seed, slug, expires)
        try:
            with Transaction() as tx:
                self._put_link(tx, link, pointer, user_id, previous)
                tx.update(
                    "user",
                    user,
                    [*stamp_actions(self.actor), UserItem.invitation_sent_at.set(link.created_at)],
                    UserItem.invitation_pending == True,  # noqa: E712 (a DynamoDB condition)
                )
        except Cancelled as exc:
            if exc.lost("pointer"):
                raise Conflict("Another invitation was sent meanwhile; try again.") from exc
            if exc.lost("user"):
                raise Conflict("The user changed meanwhile; try again.") from exc
            raise

    def reset_link(
        self, user_id: str, link_hash: str, seed: str, slug: str, expires: datetime
    ) -> None:
        """A new password-reset link; the previous one is voided. A GetItem of the pointer,
        then ONE transaction (new link, pointer, old link deleted)."""
        previous = self.current_link_hash(user_id, "reset")
        link, pointer = self._link_item(user_id, "reset", link_hash, seed, slug, expires)
        try:
            with Transaction() as tx:
                self._put_link(tx, link, pointer, user_id, previous)
        except Cancelled as exc:
            raise Conflict("Another reset link was sent meanwhile; try again.") from exc

    def decoy_reset_link(self, user_id: str) -> None:
        """The requests :meth:`reset_link` makes (a GetItem of the pointer, then ONE
        transaction), writing nothing: the transaction only checks that a link which cannot
        exist does not. A forgot-password request for no account (or none that may have a link
        now) then takes as long as one for a real account."""
        self.current_link_hash(user_id, "reset")
        pk, sk = keys.account_link_key(self.tenant_id, "decoy")
        with Transaction() as tx:
            tx.check("decoy", AccountLinkItem, pk, sk, AccountLinkItem.pk.does_not_exist())

    def _put_link(
        self,
        tx: Transaction,
        link: AccountLinkItem,
        pointer: LinkPointerItem,
        user_id: str,
        previous: str | None,
    ) -> None:
        tx.save("link", link, AccountLinkItem.pk.does_not_exist())
        if previous is None:
            tx.save("pointer", pointer, LinkPointerItem.pk.does_not_exist())
            return
        tx.save("pointer", pointer, LinkPointerItem.link_hash == previous)
        old_pk, old_sk = keys.account_link_key(self.tenant_id, previous)
        tx.delete(
            "old",
            AccountLinkItem(old_pk, old_sk),
            AccountLinkItem.pk.does_not_exist() | (AccountLinkItem.user_ref == user_id),
        )

    def link(self, link_hash: str) -> Link | None:
        """The link a token's hash names: ONE strongly consistent GetItem."""
        try:
            pk, sk = keys.account_link_key(self.tenant_id, link_hash)
            item = AccountLinkItem.get(pk, sk, consistent_read=True)
        except (DoesNotExist, ValueError):
            return None
        expires = item.expires_at or datetime.fromtimestamp(0, UTC)
        return Link(
            link_id=item.seed,
            user_id=item.user_ref,
            purpose=item.purpose,
            expires=expires if expires.tzinfo else expires.replace(tzinfo=UTC),
        )

    def use_link(
        self, link_hash: str, link: Link, password_hash: str, now: datetime
    ) -> tuple[User, Access]:
        """Spend a link and set the password it allows: a GetItem of the user, then ONE
        transaction: the link goes (on condition that it is still there: single use), the
        credential gets the new hash, and the user is updated (an invitation: no longer
        pending; a reset: the password changed and every login ends, by raising the
        authorization version). Raises :class:`InvalidToken` when the link is gone (used,
        voided, or its user deleted)."""
        user = _user_item(self.tenant_id, link.user_id)
        if user is None:
            raise InvalidToken()
        pk, sk = keys.account_link_key(self.tenant_id, link_hash)
        c_pk, c_sk = keys.credential_key(self.tenant_id, user.email)
        p_pk, p_sk = keys.account_link_pointer_key(self.tenant_id, user.user_id, link.purpose)
        user_actions = stamp_actions(self.actor)
        if link.purpose == "invite":
            user_actions.append(UserItem.invitation_pending.remove())
        else:
            user_actions += [
                UserItem.password_changed_at.set(iso(now)),
                UserItem.auth_version.add(1),
            ]
        try:
            with Transaction() as tx:
                tx.delete("link", AccountLinkItem(pk, sk), AccountLinkItem.pk.exists())
                tx.delete(
                    "pointer",
                    LinkPointerItem(p_pk, p_sk),
                    LinkPointerItem.pk.does_not_exist() | (LinkPointerItem.link_hash == link_hash),
                )
                tx.update(
                    "credential",
                    CredentialItem(c_pk, c_sk),
                    [CredentialItem.password_hash.set(password_hash), *stamp_actions(self.actor)],
                    CredentialItem.user_id == user.user_id,
                )
                tx.update("user", user, user_actions, UserItem.pk.exists())
        except Cancelled as exc:
            if exc.lost("link") or exc.lost("pointer"):
                raise InvalidToken() from exc
            raise Conflict("The user changed meanwhile; try again.") from exc
        user.invitation_pending = None
        if link.purpose != "invite":
            user.auth_version = int(user.auth_version or 0) + 1
        return user_from_item(user), access_of(user)

    def change_password(
        self, user_id: str, password_hash: str, now: datetime, *, keep_login: str | None = None
    ) -> int:
        """A new password for a logged-in user: a GetItem of the user, then ONE transaction
        (credential, the user's ``password_changed_at`` and a raised authorization version, and
        the login ``keep_login`` moved to that version in the same step, so a refresh of it can
        never see the user's new version before its own: every other login ends). Answers the
        new version."""
        user = _user_item(self.tenant_id, user_id)
        if user is None:
            raise NotFound("user")
        version = int(user.auth_version or 0) + 1
        unchanged = (
            UserItem.auth_version == user.auth_version
            if user.auth_version is not None
            else UserItem.auth_version.does_not_exist()
        )
        c_pk, c_sk = keys.credential_key(self.tenant_id, user.email)
        try:
            with Transaction() as tx:
                tx.update(
                    "credential",
                    CredentialItem(c_pk, c_sk),
                    [CredentialItem.password_hash.set(password_hash), *stamp_actions(self.actor)],
                    CredentialItem.user_id == user.user_id,
                )
                tx.update(
                    "user",
                    user,
                    [
                        *stamp_actions(self.actor),
                        UserItem.password_changed_at.set(iso(now)),
                        UserItem.auth_version.set(version),
                    ],
                    UserItem.pk.exists() & unchanged,
                )
                if keep_login is not None:
                    f_pk, f_sk = keys.token_family_key(self.tenant_id, keep_login)
                    tx.update(
                        "login",
                        FamilyItem(f_pk, f_sk),
                        [FamilyItem.auth_version.set(version)],
                        (FamilyItem.user_id == user_id) & (FamilyItem.revoked == False),  # noqa: E712 (a DynamoDB condition)
                    )
        except Cancelled as exc:
            raise Conflict("The user or this login changed meanwhile; try again.") from exc
        return version

    # -- reset emails per account and hour -------------------------------------------------
    def count_reset_email(self, email: str, now: datetime, limit: int) -> bool:
        """Count one reset email of the account in the current hour unless ``limit`` were
        sent: ONE conditional UpdateItem. False: the hour's emails are used up."""
        hour = int(now.timestamp() // 3600)
        try:
            pk, sk = keys.reset_counter_key(self.tenant_id, email, hour)
        except ValueError:
            return False
        try:
            ResetCounterItem(pk, sk).update(
                actions=[
                    ResetCounterItem.sent.add(1),
                    ResetCounterItem.type.set(ResetCounterItem),
                    ResetCounterItem.tenant_id.set(self.tenant_id),
                    ResetCounterItem.expires_at.set(datetime.fromtimestamp((hour + 1) * 3600, UTC)),
                ],
                condition=ResetCounterItem.sent.does_not_exist() | (ResetCounterItem.sent < limit),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True


def _user_item(tenant_id: str, user_id: str) -> UserItem | None:
    try:
        pk, sk = keys.user_key(tenant_id, user_id)
        return UserItem.get(pk, sk, consistent_read=True)
    except (DoesNotExist, ValueError):
        return None
