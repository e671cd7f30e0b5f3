"""Calendar feed tokens: a secret URL per user, stored only as the token's SHA-256.

Key design (formats in ``db/keys.py``, "calendar feeds"):

* a feed item per token, keyed by the token's hash alone: ``CALFEED#<sha256>`` / ``CALFEED``.
  The feed URL names no tenant, so presenting a token is ONE GetItem of this global key; the
  item names the tenant, the user and the role whose sessions the feed lists;
* a pointer in the user's partition, ``T#<tid>#USER#<uid>`` / ``CALFEED``, naming the current
  feed's hash. A new feed deletes the one the pointer names in the same transaction, and
  revoking deletes both, so an old URL stops working at once.

Neither item is an audited entity; the hash never leaves the data layer (the change stream drops
every attribute named like a secret).
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DoesNotExist

from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import MainItem
from chalicelib.db.transactions import Cancelled, Transaction
from chalicelib.errors import Conflict
from chalicelib.models.calendar import FeedOwner
from chalicelib.models.users import Role


class CalendarFeedItem(MainItem, discriminator="calendar_feed"):
    """One feed token (by its hash): whose sessions it lists."""

    user_ref = UnicodeAttribute(attr_name="id")
    role = UnicodeAttribute()


class CalendarFeedPointerItem(MainItem, discriminator="calendar_feed_pointer"):
    """The user's current feed (a newer one, or a revocation, voids it)."""

    feed_hash = UnicodeAttribute()


def feed_owner(token_hash: str) -> FeedOwner | None:
    """Whose feed a token's hash names: ONE strongly consistent GetItem (a revoked feed is gone
    at once), or ``None``."""
    try:
        pk, sk = keys.calendar_feed_key(token_hash)
        item = CalendarFeedItem.get(pk, sk, consistent_read=True)
    except (DoesNotExist, ValueError):
        return None
    return FeedOwner(tenant_id=item.tenant_id or "", user_id=item.user_ref, role=Role(item.role))


class CalendarFeedRepository:
    """The calendar feeds of one tenant's users."""

    def __init__(self, tenant_id: str, actor: Actor) -> None:
        self.tenant_id = tenant_id
        self.actor = actor

    def _current(self, user_id: str) -> str | None:
        pk, sk = keys.calendar_feed_pointer_key(self.tenant_id, user_id)
        try:
            return CalendarFeedPointerItem.get(pk, sk, consistent_read=True).feed_hash
        except DoesNotExist:
            return None

    def replace(self, user_id: str, role: Role, token_hash: str) -> None:
        """Make ``token_hash`` the user's feed and void the previous one: a GetItem of the
        pointer, then ONE transaction (new feed, pointer, old feed deleted). A concurrent
        change of the same user's feed is a 409."""
        previous = self._current(user_id)
        pk, sk = keys.calendar_feed_key(token_hash)
        feed = CalendarFeedItem(pk, sk, tenant_id=self.tenant_id, user_ref=user_id, role=role.value)
        feed.stamp(self.actor, created=True)
        p_pk, p_sk = keys.calendar_feed_pointer_key(self.tenant_id, user_id)
        pointer = CalendarFeedPointerItem(
            p_pk, p_sk, tenant_id=self.tenant_id, feed_hash=token_hash
        )
        pointer.stamp(self.actor, created=True)
        try:
            with Transaction() as tx:
                tx.save("feed", feed, CalendarFeedItem.pk.does_not_exist())
                if previous is None:
                    tx.save("pointer", pointer, CalendarFeedPointerItem.pk.does_not_exist())
                else:
                    tx.save("pointer", pointer, CalendarFeedPointerItem.feed_hash == previous)
                    self._delete_feed(tx, previous, user_id)
        except Cancelled as exc:
            raise Conflict("The calendar feed changed meanwhile; try again.") from exc

    def revoke(self, user_id: str) -> None:
        """Void the user's feed, if any: a GetItem of the pointer, then ONE transaction."""
        previous = self._current(user_id)
        if previous is None:
            return
        p_pk, p_sk = keys.calendar_feed_pointer_key(self.tenant_id, user_id)
        try:
            with Transaction() as tx:
                tx.delete(
                    "pointer",
                    CalendarFeedPointerItem(p_pk, p_sk),
                    CalendarFeedPointerItem.feed_hash == previous,
                )
                self._delete_feed(tx, previous, user_id)
        except Cancelled as exc:
            raise Conflict("The calendar feed changed meanwhile; try again.") from exc

    def _delete_feed(self, tx: Transaction, token_hash: str, user_id: str) -> None:
        pk, sk = keys.calendar_feed_key(token_hash)
        tx.delete(
            "old",
            CalendarFeedItem(pk, sk),
            CalendarFeedItem.pk.does_not_exist() | (CalendarFeedItem.user_ref == user_id),
        )
