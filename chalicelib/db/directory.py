"""People and course names for emails: who to write to, and what to call things."""

from __future__ import annotations

from chalicelib.db import keys
from chalicelib.db.base import batch_get
from chalicelib.db.catalog import CourseItem
from chalicelib.db.users import UserItem
from chalicelib.models.messages import Recipient
from chalicelib.models.users import Role


class DynamoDirectory:
    """``services.notifications.Directory`` on the main table."""

    def lookup(
        self, tenant_id: str, user_ids: list[str], course_id: str | None
    ) -> tuple[dict[str, Recipient], str | None]:
        """The users (by id) and the course title, in one BatchGetItem."""
        wanted = [keys.user_key(tenant_id, uid) for uid in user_ids]
        course_key = keys.course_key(tenant_id, course_id) if course_id else None
        if course_key:
            wanted.append(course_key)
        people: dict[str, Recipient] = {}
        title: str | None = None
        for item in batch_get(wanted):
            if isinstance(item, UserItem):
                if item.user_id and item.email:
                    people[item.user_id] = Recipient(
                        user_id=item.user_id, name=item.name or "", email=item.email
                    )
            elif isinstance(item, CourseItem) and (item.pk, item.sk) == course_key:
                title = item.title
        return people, title

    def active_admins(self, tenant_id: str) -> list[Recipient]:
        """Every active admin of the tenant (a Query on the users index, role prefix)."""
        results = UserItem.gsi1.query(
            keys.users_index_pk(tenant_id),
            range_key_condition=UserItem.gsi1sk.startswith(
                keys.users_index_role_prefix(Role.admin.value)
            ),
        )
        return [
            Recipient(user_id=u.user_id, name=u.name, email=u.email)
            for u in results
            if isinstance(u, UserItem) and u.active and u.role == Role.admin
        ]
