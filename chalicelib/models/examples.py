"""One consistent set of example values for the OpenAPI document's examples.

The ids are ULIDs like the ones the service makes; the same course, booking and people appear in
every example, so the examples read as one story (the guides in ``docs/`` tell the same one).
"""

from __future__ import annotations

from typing import Any

TENANT_ID = "01JF3Q7ZK8T2N6V4W9X5Y0C1DA"
ADMIN_ID = "01JF3Q7ZM2B8D4F6H9J1K3M5N7"
INSTRUCTOR_ID = "01JF3Q8A1C3E5G7J9K2M4P6R8S"
STUDENT_ID = "01JF3Q8B2D4F6H8K1M3N5Q7S9T"
COURSE_ID = "01JF3Q9C3E5G7J9M2P4R6T8V1W"
MODULE_ID = "01JF3Q9D4F6H8K1N3Q5S7V9X2Y"
LESSON_ID = "01JF3Q9E5G7J9M2P4R6T8W1Y3Z"
BOOKING_ID = "01JF3QAF6H8K1N3Q5S7V9X2Z4A"
AUDIT_ID = "01JF3QBG7J9M2P4R6T8W1Y3A5B"
CORRELATION_ID = "5f0c6a53-2a8e-4b8e-9d55-3c1f0b7e9a21"

CREATED_AT = "2026-11-26T09:30:00Z"
UPDATED_AT = "2026-11-26T09:45:00Z"
STARTS_AT = "2030-01-07T15:00:00Z"

ACCESS_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIwMUpGM1E3Wk0yQjhENEY2SDlKMUszTTVONyJ9.c2lnbmF0dXJl"
)
REFRESH_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0eXAiOiJyZWZyZXNoIn0.cmVmcmVzaHNpZw"

TENANT: dict[str, Any] = {
    "id": TENANT_ID,
    "slug": "riverside",
    "name": "Riverside Tutoring",
    "escalate_after_minutes": 1440,
    "created_at": CREATED_AT,
}
ADMIN: dict[str, Any] = {
    "id": ADMIN_ID,
    "tenant_id": TENANT_ID,
    "email": "ada@riverside.example",
    "name": "Ada Admin",
    "role": "admin",
    "active": True,
    "created_at": CREATED_AT,
}
INSTRUCTOR: dict[str, Any] = {
    **ADMIN,
    "id": INSTRUCTOR_ID,
    "email": "ian@riverside.example",
    "name": "Ian Instructor",
    "role": "instructor",
}
STUDENT: dict[str, Any] = {
    **ADMIN,
    "id": STUDENT_ID,
    "email": "sam@riverside.example",
    "name": "Sam Student",
    "role": "student",
}
TOKENS: dict[str, Any] = {
    "access_token": ACCESS_TOKEN,
    "refresh_token": REFRESH_TOKEN,
    "token_type": "Bearer",
    "expires_in": 900,
}
LESSON: dict[str, Any] = {
    "id": LESSON_ID,
    "title": "Solving for x",
    "content": "Move every term with x to one side.",
    "duration_minutes": 30,
    "position": 0,
}
MODULE: dict[str, Any] = {
    "id": MODULE_ID,
    "title": "Linear equations",
    "position": 0,
    "lessons": [LESSON],
}
COURSE_SUMMARY: dict[str, Any] = {
    "id": COURSE_ID,
    "title": "Algebra I",
    "description": "Equations, inequalities and functions.",
    "published": True,
    "owner_id": INSTRUCTOR_ID,
    "created_at": CREATED_AT,
    "updated_at": UPDATED_AT,
    "instructor_ids": [INSTRUCTOR_ID],
}
COURSE: dict[str, Any] = {**COURSE_SUMMARY, "modules": [MODULE]}
BOOKING: dict[str, Any] = {
    "id": BOOKING_ID,
    "tenant_id": TENANT_ID,
    "student_id": STUDENT_ID,
    "course_id": COURSE_ID,
    "instructor_id": None,
    "requested_instructor_id": INSTRUCTOR_ID,
    "starts_at": STARTS_AT,
    "duration_minutes": 60,
    "status": "requested",
    "note": "Chapter 3, please.",
    "reason": None,
    "escalated_at": None,
    "created_at": CREATED_AT,
    "updated_at": CREATED_AT,
    "version": 1,
}
AUDIT_ENTRY: dict[str, Any] = {
    "id": AUDIT_ID,
    "tenant_id": TENANT_ID,
    "entity_type": "booking",
    "entity_id": BOOKING_ID,
    "action": "updated",
    "actor_id": ADMIN_ID,
    "correlation_id": CORRELATION_ID,
    "at": UPDATED_AT,
    "before": {"status": "requested", "version": 1},
    "after": {"status": "approved", "version": 2},
}

# --- account lifecycle (v2) ---------------------------------------------------------------------
SESSION_ID = "01JF3QCH8K1N3Q5S7V9X2Z4B6C"
#: What a link in an invitation or reset email carries (``?token=``): 43 URL-safe characters.
LINK_TOKEN = "q3Vt0H6dE2m9YwJcZr8sXk1LfA5bNp7gTuQ4eWi0oSy"
SESSION: dict[str, Any] = {
    "id": SESSION_ID,
    "created_at": CREATED_AT,
    "last_used_at": UPDATED_AT,
    "expires_at": "2026-12-26T09:30:00Z",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
    "current": True,
}
