"""Every key format of the main and audit tables. Nothing outside this module builds a key.

Every tenant-owned key begins with ``T#<tenant_id>``; tenant ids and slugs never contain ``#``
(the edge rejects them), so one tenant's prefix can never be read as another's.
"""

from __future__ import annotations

import re
import zlib

_SAFE = re.compile(r"[^#\s\x00-\x1f]{1,320}")


def _part(value: str) -> str:
    if not _SAFE.fullmatch(value):
        raise ValueError("key parts may not contain '#' or control characters")
    return value


def tenant_prefix(tenant_id: str) -> str:
    return f"T#{_part(tenant_id)}"


# --- tenants -------------------------------------------------------------------------------
def tenant_key(tenant_id: str) -> tuple[str, str]:
    return tenant_prefix(tenant_id), "TENANT"


def slug_key(slug: str) -> tuple[str, str]:
    """Global registry of slugs (a slug names exactly one tenant, for login and sign-up)."""
    return f"SLUG#{_part(slug)}", "SLUG"


# --- users ---------------------------------------------------------------------------------
def user_key(tenant_id: str, user_id: str) -> tuple[str, str]:
    return f"{tenant_prefix(tenant_id)}#USER#{_part(user_id)}", "USER"


def users_index_pk(tenant_id: str) -> str:
    """gsi1: every user of a tenant, sorted by role then id (role filter = key prefix)."""
    return f"{tenant_prefix(tenant_id)}#USERS"


def users_index_sk(role: str, user_id: str) -> str:
    return f"{_part(role)}#{_part(user_id)}"


def users_index_role_prefix(role: str) -> str:
    return f"{_part(role)}#"


def credential_key(tenant_id: str, email: str) -> tuple[str, str]:
    """One per (tenant, email): makes the email unique in the tenant and holds the hash."""
    return f"{tenant_prefix(tenant_id)}#EMAIL#{_part(email)}", "CREDENTIAL"


def login_counter_key(tenant_id: str, email: str, window: int) -> tuple[str, str]:
    """The login attempts on one account in one long window (``window`` = its number since the
    epoch). In the account's partition, beside its credential, so every lock of an account is
    found (and lifted) with one Query of the partition."""
    return (
        f"{tenant_prefix(tenant_id)}#EMAIL#{_part(email)}",
        f"{login_counters_prefix()}{int(window)}",
    )


def login_counters_prefix() -> str:
    """Sort-key prefix of every login counter of an account (``begins_with``)."""
    return "LOGIN#"


def login_client_counter(client: str, window: int) -> str:
    """The attribute of an account's counter item that counts one client address's attempts
    in one short window (a short window lies inside one long window)."""
    return f"c#{_part(client)}#{int(window)}"


def token_family_key(tenant_id: str, family_id: str) -> tuple[str, str]:
    return f"{tenant_prefix(tenant_id)}#FAMILY#{_part(family_id)}", "FAMILY"


def user_sessions_index_pk(tenant_id: str, user_id: str) -> str:
    """gsi1 of a live token family (sparse: an ended login drops it): the user's logins,
    sorted by family id (= start time)."""
    return f"{tenant_prefix(tenant_id)}#USER#{_part(user_id)}#SESSIONS"


def user_sessions_index_sk(family_id: str) -> str:
    return f"FAMILY#{_part(family_id)}"


# --- account links (invitations, password resets) and their throttle -------------------------
def account_link_key(tenant_id: str, token_hash: str) -> tuple[str, str]:
    """A link token's item, found by the SHA-256 of the token (one GetItem); never the token."""
    return f"{tenant_prefix(tenant_id)}#LINK#{_part(token_hash)}", "LINK"


def account_link_pointer_key(tenant_id: str, user_id: str, purpose: str) -> tuple[str, str]:
    """The user's current link of one purpose (in the user's partition): a newer link deletes
    the one it names, which voids it."""
    return f"{tenant_prefix(tenant_id)}#USER#{_part(user_id)}", f"LINK#{_part(purpose)}"


def reset_counter_key(tenant_id: str, email: str, window: int) -> tuple[str, str]:
    """Password-reset emails of one account in one hour (beside its credential and locks)."""
    return f"{tenant_prefix(tenant_id)}#EMAIL#{_part(email)}", f"RESET#{int(window)}"


# --- bookings ------------------------------------------------------------------------------
#: The waiting-bookings work queue (sparse ``due`` index) is spread over this many partitions.
BOOKING_DUE_SHARDS = 8


def booking_key(tenant_id: str, booking_id: str) -> tuple[str, str]:
    return f"{tenant_prefix(tenant_id)}#BOOKING#{_part(booking_id)}", "BOOKING"


def _status_suffix(status: str | None) -> str:
    return f"#STATUS#{_part(status)}" if status else ""


def bookings_index_pk(tenant_id: str, status: str | None = None) -> str:
    """Admin views: gsi1 (every booking of the tenant) / gsi4 (one status)."""
    return f"{tenant_prefix(tenant_id)}#BOOKINGS{_status_suffix(status)}"


def student_bookings_pk(tenant_id: str, student_id: str, status: str | None = None) -> str:
    """Student views: gsi2 (all of the student's bookings) / gsi5 (one status)."""
    return (
        f"{tenant_prefix(tenant_id)}#STUDENT#{_part(student_id)}#BOOKINGS{_status_suffix(status)}"
    )


def instructor_bookings_pk(tenant_id: str, instructor_id: str, status: str | None = None) -> str:
    """Instructor views (sparse: only once assigned): gsi3 (all) / gsi6 (one status)."""
    prefix = f"{tenant_prefix(tenant_id)}#INSTRUCTOR#{_part(instructor_id)}"
    return f"{prefix}#BOOKINGS{_status_suffix(status)}"


def bookings_index_sk(booking_id: str) -> str:
    """Booking ids are ULIDs: sorting by id sorts by creation (newest first = descending)."""
    return _part(booking_id)


def booking_due_shard(booking_id: str) -> int:
    return zlib.crc32(booking_id.encode()) % BOOKING_DUE_SHARDS


def booking_due_pk(shard: int) -> str:
    return f"DUE#BOOKING#{int(shard)}"


def booking_due_sk(due_at_iso: str, tenant_id: str, booking_id: str) -> str:
    """``<escalate-at ISO>#<tenant>#<booking>``: a range condition on time finds the stale ones."""
    return f"{_part(due_at_iso)}#{_part(tenant_id)}#{_part(booking_id)}"


def booking_due_sk_upto(now_iso: str) -> str:
    """Upper bound (exclusive) of every due_sk whose time is <= ``now_iso`` ('$' > '#')."""
    return f"{_part(now_iso)}$"


def parse_booking_due_sk(due_sk: str) -> tuple[str, str, str]:
    due_at, tenant_id, booking_id = due_sk.split("#", 2)
    return due_at, tenant_id, booking_id


#: The waiting-to-start work queue (sparse ``expiry`` index) is spread over this many partitions.
BOOKING_EXPIRY_SHARDS = 8


def booking_expiry_pk(shard: int) -> str:
    return f"EXPIRY#BOOKING#{int(shard)}"


def booking_expiry_sk(starts_at_iso: str, tenant_id: str, booking_id: str) -> str:
    """``<starts_at ISO>#<tenant>#<booking>``: a range condition on time finds the started ones
    (read with :func:`booking_due_sk_upto` and :func:`parse_booking_due_sk`, same layout)."""
    return f"{_part(starts_at_iso)}#{_part(tenant_id)}#{_part(booking_id)}"


#: The reminders-to-send work queue (sparse ``reminder`` index) is spread over this many partitions.
BOOKING_REMINDER_SHARDS = 8


def booking_reminder_pk(shard: int) -> str:
    return f"REMIND#BOOKING#{int(shard)}"


def booking_reminder_sk(remind_at_iso: str, tenant_id: str, booking_id: str) -> str:
    """``<remind-at ISO>#<tenant>#<booking>``: a range condition on time finds the due ones
    (read with :func:`booking_due_sk_upto` and :func:`parse_booking_due_sk`, same layout)."""
    return f"{_part(remind_at_iso)}#{_part(tenant_id)}#{_part(booking_id)}"


def instructor_slot_key(tenant_id: str, instructor_id: str, slot: str) -> tuple[str, str]:
    """A lock item per 15-minute block an assigned booking covers (slot ``yyyy-mm-ddThh:mm``)."""
    return (
        f"{tenant_prefix(tenant_id)}#INSTRUCTOR#{_part(instructor_id)}#SLOT#{_part(slot)}",
        "SLOT",
    )


# --- calendar feeds ------------------------------------------------------------------------
def calendar_feed_key(token_hash: str) -> tuple[str, str]:
    """A feed token's item, found by the SHA-256 of the token alone (one GetItem; the feed URL
    names no tenant, so this key is global like a slug's). It names the tenant and user."""
    return f"CALFEED#{_part(token_hash)}", "CALFEED"


def calendar_feed_pointer_key(tenant_id: str, user_id: str) -> tuple[str, str]:
    """The user's current feed (in the user's partition): a new feed deletes the one it names."""
    return f"{tenant_prefix(tenant_id)}#USER#{_part(user_id)}", "CALFEED"


# --- audit (the audit table; written only by the stream consumer) --------------------------
def audit_key(tenant_id: str, at: str, sequence: str, event_id: str) -> tuple[str, str]:
    """All of a tenant's entries under one partition, sorted by time then stream order.

    The sort key is derived from the stream record alone, so a replayed record maps to the
    same key and the conditional put adds nothing.
    """
    sk = f"{_part(at)}#{_part(sequence):0>40}#{_part(event_id)}"
    return audit_pk(tenant_id), sk


def audit_pk(tenant_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}#AUDIT"


def audit_type_index_pk(tenant_id: str, entity_type: str) -> str:
    """gsi1 of the audit table: a tenant's entries of one entity type (sort key = table sk)."""
    return f"{tenant_prefix(tenant_id)}#AUDIT#TYPE#{_part(entity_type)}"


def audit_entity_index_pk(tenant_id: str, entity_id: str) -> str:
    """gsi2 of the audit table: a tenant's entries of one entity (sort key = table sk)."""
    return f"{tenant_prefix(tenant_id)}#AUDIT#ENTITY#{_part(entity_id)}"


# --- catalog: courses, modules, lessons (one partition per course) --------------------------
def course_pk(tenant_id: str, course_id: str) -> str:
    """The course's partition: the course item, its modules and their lessons."""
    return f"{tenant_prefix(tenant_id)}#COURSE#{_part(course_id)}"


def course_key(tenant_id: str, course_id: str) -> tuple[str, str]:
    return course_pk(tenant_id, course_id), "COURSE"


def module_sk(module_id: str) -> str:
    return f"MODULE#{_part(module_id)}"


def module_key(tenant_id: str, course_id: str, module_id: str) -> tuple[str, str]:
    return course_pk(tenant_id, course_id), module_sk(module_id)


def course_children_prefix() -> str:
    """Sort-key prefix of every module and lesson of a course (``begins_with``)."""
    return "MODULE#"


def module_lessons_prefix(module_id: str) -> str:
    """Sort-key prefix of one module's lessons (``begins_with``)."""
    return f"{module_sk(module_id)}#LESSON#"


def lesson_key(tenant_id: str, course_id: str, module_id: str, lesson_id: str) -> tuple[str, str]:
    return course_pk(tenant_id, course_id), f"{module_lessons_prefix(module_id)}{_part(lesson_id)}"


def courses_index_pk(tenant_id: str) -> str:
    """gsi1: every course of a tenant (drafts too), sorted by course id (= creation time)."""
    return f"{tenant_prefix(tenant_id)}#COURSES"


def published_courses_index_pk(tenant_id: str) -> str:
    """gsi2 (sparse): only published courses carry it, so a student's page is all published."""
    return f"{tenant_prefix(tenant_id)}#COURSES#PUBLISHED"


def courses_index_sk(course_id: str) -> str:
    return f"COURSE#{_part(course_id)}"
