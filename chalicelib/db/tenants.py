"""Tenants and the slug registry; sign-up writes tenant, slug, admin and credential at once."""

from __future__ import annotations

from typing import Any

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
from chalicelib.db.transactions import Cancelled, Transaction
from chalicelib.db.users import CredentialItem, UserItem
from chalicelib.errors import Conflict, NotFound
from chalicelib.models.scheduling import DEFAULT_REMINDER_MINUTES, BookingSettings
from chalicelib.models.tenants import Tenant
from chalicelib.models.users import User


class TenantItem(MainItem, discriminator="tenant"):
    tenant_ref = UnicodeAttribute(attr_name="id")
    slug = UnicodeAttribute()
    name = UnicodeAttribute()
    escalate_after_minutes = NumberAttribute(default=1440)
    version = VersionAttribute()
    # Scheduling settings (absent on tenants made before them: the defaults).
    time_zone = UnicodeAttribute(null=True)
    min_notice_minutes = NumberAttribute(null=True)
    booking_horizon_days = NumberAttribute(null=True)
    reminder_minutes_before = NumberAttribute(null=True)
    no_reminders = BooleanAttribute(null=True)


class SlugItem(MainItem, discriminator="slug"):
    slug = UnicodeAttribute()


def tenant_from_item(item: TenantItem) -> Tenant:
    return Tenant(
        id=item.tenant_ref,
        slug=item.slug,
        name=item.name,
        escalate_after_minutes=int(item.escalate_after_minutes),
        created_at=item.created_at,
        **scheduling_fields_of(item),
    )


def scheduling_fields_of(item: TenantItem) -> dict[str, Any]:
    """The tenant's scheduling settings as the Tenant resource names them (defaults filled)."""
    settings = booking_settings_of(item)
    return {
        "time_zone": settings.time_zone,
        "min_notice_minutes": settings.min_notice_minutes,
        "booking_horizon_days": settings.booking_horizon_days,
        "reminder_minutes_before": reminder_minutes_of(item),
    }


def reminder_minutes_of(item: TenantItem) -> int | None:
    """How long before a session its reminder goes out (None: the tenant sends none)."""
    if item.no_reminders:
        return None
    if item.reminder_minutes_before is not None:
        return int(item.reminder_minutes_before)
    return DEFAULT_REMINDER_MINUTES


def booking_settings_of(item: TenantItem) -> BookingSettings:
    default = BookingSettings()
    return BookingSettings(
        time_zone=item.time_zone or default.time_zone,
        min_notice_minutes=(
            default.min_notice_minutes
            if item.min_notice_minutes is None
            else int(item.min_notice_minutes)
        ),
        booking_horizon_days=(
            default.booking_horizon_days
            if item.booking_horizon_days is None
            else int(item.booking_horizon_days)
        ),
    )


def create_tenant_with_admin(tenant: Tenant, admin: User, password_hash: str, actor: Actor) -> None:
    """One transaction: the slug claim, the tenant, its first admin and the admin's credential.

    Raises Conflict when the slug is already taken (nothing is written then).
    """
    slug_pk, slug_sk = keys.slug_key(tenant.slug)
    slug_item = SlugItem(slug_pk, slug_sk, slug=tenant.slug, tenant_id=tenant.id)
    slug_item.stamp(actor, created=True)
    t_pk, t_sk = keys.tenant_key(tenant.id)
    tenant_item = TenantItem(
        t_pk,
        t_sk,
        tenant_id=tenant.id,
        tenant_ref=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        escalate_after_minutes=tenant.escalate_after_minutes,
    )
    tenant_item.stamp(actor, created=True)
    user_item, cred_item = UserItem.new(admin, password_hash, actor)
    try:
        with Transaction() as tx:
            tx.save("slug", slug_item, SlugItem.pk.does_not_exist())
            tx.save("tenant", tenant_item, TenantItem.pk.does_not_exist())
            tx.save("admin", user_item, UserItem.pk.does_not_exist())
            tx.save("credential", cred_item, CredentialItem.pk.does_not_exist())
    except Cancelled as exc:
        if exc.failed("slug"):
            raise Conflict("That slug is already taken.") from exc
        raise


_SLUG_CACHE: dict[str, str] = {}


def tenant_id_for_slug(slug: str) -> str | None:
    """Slugs never change owner (tenants are not renamed or deleted), so hits are cached."""
    if slug in _SLUG_CACHE:
        return _SLUG_CACHE[slug]
    try:
        pk, sk = keys.slug_key(slug)
        item = SlugItem.get(pk, sk)
    except (ValueError, DoesNotExist):
        return None
    if item.tenant_id and len(_SLUG_CACHE) < 10_000:
        _SLUG_CACHE[slug] = item.tenant_id
    return item.tenant_id


def forget_slugs() -> None:
    """Tests that recreate the emulated tables call this."""
    _SLUG_CACHE.clear()


class TenantRepository:
    """The tenant record of one tenant."""

    def __init__(self, tenant_id: str, actor: Actor) -> None:
        self.tenant_id = tenant_id
        self.actor = actor

    def get(self) -> Tenant:
        pk, sk = keys.tenant_key(self.tenant_id)
        try:
            return tenant_from_item(TenantItem.get(pk, sk))
        except DoesNotExist as exc:
            raise NotFound("tenant") from exc

    def update(
        self,
        *,
        name: str | None,
        escalate_after_minutes: int | None,
        scheduling: dict[str, Any] | None = None,
    ) -> Tenant:
        """Read, then write conditionally on the version read (a racing write answers 409)."""
        pk, sk = keys.tenant_key(self.tenant_id)
        try:
            item = TenantItem.get(pk, sk, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound("tenant") from exc
        actions = stamp_actions(self.actor)
        if name is not None:
            actions.append(TenantItem.name.set(name))
        if escalate_after_minutes is not None:
            actions.append(TenantItem.escalate_after_minutes.set(escalate_after_minutes))
        for field, value in (scheduling or {}).items():
            if field == "reminder_minutes_before":
                actions.append(TenantItem.no_reminders.set(value is None))
                if value is not None:
                    actions.append(TenantItem.reminder_minutes_before.set(value))
            else:
                actions.append(getattr(TenantItem, field).set(value))
        try:
            item.update(actions=actions)
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise Conflict("The tenant changed meanwhile; read it again and retry.") from exc
            raise
        return tenant_from_item(item)
