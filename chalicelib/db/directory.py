"""People and course names for emails: who to write to, what to call things, and the tenant's
time zone (the zone of every recipient without one of their own)."""

from __future__ import annotations

from chalicelib.db import keys
from chalicelib.db.base import batch_get
from chalicelib.db.catalog import CourseItem
from chalicelib.db.tenants import TenantItem, booking_settings_of
from chalicelib.db.users import UserItem
from chalicelib.models.messages import Found, Recipient
from chalicelib.models.scheduling import BookingSettings
from chalicelib.models.users import Role


class DynamoDirectory:
    """``services.notifications.Directory`` on the main table."""

    def lookup(self, tenant_id: str, user_ids: list[str], course_id: str | None) -> Found:
        """The users (by id), the course title and the tenant's time zone, in ONE BatchGetItem
        (the tenant item is one more key in the same request)."""
        tenant_key = keys.tenant_key(tenant_id)
        wanted = [tenant_key, *(keys.user_key(tenant_id, uid) for uid in user_ids)]
        course_key = keys.course_key(tenant_id, course_id) if course_id else None
        if course_key:
            wanted.append(course_key)
        people: dict[str, Recipient] = {}
        title: str | None = None
        zone = BookingSettings().time_zone
        for item in batch_get(wanted):
            if isinstance(item, UserItem):
                if item.user_id and item.email:
                    people[item.user_id] = _recipient(item)
            elif isinstance(item, CourseItem) and (item.pk, item.sk) == course_key:
                title = item.title
            elif isinstance(item, TenantItem) and (item.pk, item.sk) == tenant_key:
                zone = booking_settings_of(item).time_zone
        return Found(people=people, course_title=title, time_zone=zone)

    def active_admins(self, tenant_id: str) -> list[Recipient]:
        """Every active admin of the tenant (a Query on the users index, role prefix)."""
        results = UserItem.gsi1.query(
            keys.users_index_pk(tenant_id),
            range_key_condition=UserItem.gsi1sk.startswith(
                keys.users_index_role_prefix(Role.admin.value)
            ),
        )
        return [
            _recipient(u)
            for u in results
            if isinstance(u, UserItem) and u.active and u.role == Role.admin
        ]


def _recipient(item: UserItem) -> Recipient:
    return Recipient(
        user_id=item.user_id,
        name=item.name or "",
        email=item.email,
        time_zone=item.time_zone or None,
    )
