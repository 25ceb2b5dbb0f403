"""argon2id password hashes (RFC 9106), via argon2-cffi.

The parameters are argon2-cffi's defaults for a desktop (t=3, m=64 MiB, p=4): about
50 ms a check on a workstation, slow enough that a stolen database resists guessing.
Hashes carry their parameters; ``needs_rehash`` upgrades old ones at the next login.
"""

from __future__ import annotations

import functools
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id by default
# the dummy hash is made of it; check_password never lets it in (not a secret: public)
_NO_ONES_PASSWORD = "not a password of anyone"  # noqa: S105
_dummy_lock = threading.Lock()


@functools.cache
def _hash_of_no_one() -> str:
    return _hasher.hash(_NO_ONES_PASSWORD)


def dummy_hash() -> str:
    """The hash checked when the user does not exist, so a wrong name costs one argon2
    verify as a wrong password does (no user-name probing by timing). Made at first
    need, not at import (a hash takes ~100 ms), once even when threads race to it."""
    with _dummy_lock:
        return _hash_of_no_one()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing, empty or corrupt hash never matches
    (though it costs the same verify: the dummy's)."""
    try:
        matches = _hasher.verify(password_hash or dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matches and bool(password_hash)


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
