"""Argon2id password hashing at OWASP's parameters (19 MiB, 2 iterations, 1 lane)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher, Type  # lazy: only auth paths pay for the import

    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)


def hash_password(password: str) -> str:
    return str(_hasher().hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-real-password-but-equal-work")


def burn_verification_time(password: str) -> None:
    """Do the work of one verification, so an unknown account answers as slowly as a known one."""
    verify_password(_dummy_hash(), password)


#: The stored "hash" of an account without a password yet (invited): no password matches it.
NO_PASSWORD = "!none"


def is_usable(password_hash: str) -> bool:
    """Whether some password can match the stored hash (an invited account has none yet)."""
    return not password_hash.startswith("!")
