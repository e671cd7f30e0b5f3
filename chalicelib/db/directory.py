"""People and course names for emails: who to write to, and what to call things."""

from __future__ import annotations

from typing import Any

from chalicelib.db import keys
from chalicelib.db.base import batch_get
from chalicelib.db.users import UserItem
from chalicelib.models.messages import Recipient


def _text(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name, {}).get("S")
    return value if isinstance(value, str) else None


class DynamoDirectory:
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
        for raw in batch_get(wanted):
            kind = _text(raw, "type")
            if kind == "user":
                user_id, name, email = _text(raw, "id"), _text(raw, "name"), _text(raw, "email")
                if user_id and email:
                    people[user_id] = Recipient(user_id=user_id, name=name or "", email=email)
            elif course_key and (_text(raw, "pk"), _text(raw, "sk")) == course_key:
                title = _text(raw, "title")
        return people, title

    def active_admins(self, tenant_id: str) -> list[Recipient]:
        """Every active admin of the tenant (a Query on the users index, role prefix)."""
        results = UserItem.gsi1.query(
            keys.users_index_pk(tenant_id),
            range_key_condition=UserItem.gsi1sk.startswith(keys.users_index_role_prefix("admin")),
        )
        return [
            Recipient(user_id=u.user_id, name=u.name, email=u.email)
            for u in results
            if isinstance(u, UserItem) and u.active and u.role == "admin"
        ]
