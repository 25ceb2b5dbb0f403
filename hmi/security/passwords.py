"""argon2id password hashes (RFC 9106), via argon2-cffi.

The parameters are argon2-cffi's defaults for a desktop (t=3, m=64 MiB, p=4): about
50 ms a check on a workstation, slow enough that a stolen database resists guessing.
Hashes carry their parameters; ``needs_rehash`` upgrades old ones at the next login.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id by default
# checked against when the user does not exist, so a wrong name takes as long as a
# wrong password (no user-name probing by timing)
_DUMMY = _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing or corrupt hash never matches."""
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
