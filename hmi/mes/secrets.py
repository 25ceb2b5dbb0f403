"""The MES API key, read from the OS keyring only (never config, database or logs).

The demo and the tests run where no keyring backend exists (a bare Linux box): they
install ``MemoryKeyring`` explicitly. A real site needs a real backend; the errors here
say which one and how to store the key.
"""

from __future__ import annotations

import logging

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import chainer, fail, null
from keyring.compat import properties

from hmi.core.site import MesLink

log = logging.getLogger(__name__)

SERVICE = "hmi"

BACKEND_ADVICE = (
    "A real site needs an OS keyring: on Linux the Secret Service (GNOME Keyring or "
    "KWallet, Python package 'secretstorage', with a running D-Bus session), or the "
    "'keyrings.alt' package for an encrypted file; Windows Credential Manager and the "
    "macOS Keychain work out of the box."
)


class SecretError(Exception):
    """A secret cannot be read; the message says what to do."""


class MissingSecretError(SecretError):
    def __init__(self, name: str, what: str = "MES API key") -> None:
        super().__init__(
            f"no {what} is stored in the keyring under service '{SERVICE}', "
            f"name '{name}': store it with `hmi secrets set {name}` (audited, never echoed)"
        )
        self.name = name


class NoKeyringBackendError(SecretError):
    def __init__(self, backend: str, what: str = "MES API key", done: str = "read") -> None:
        super().__init__(
            f"no usable keyring backend on this machine (keyring chose {backend}), so "
            f"the {what} cannot be {done}. {BACKEND_ADVICE}"
        )


def has_usable_backend(backend: keyring.backend.KeyringBackend | None = None) -> bool:
    """False for keyring's fail/null backends and a chainer with nothing to chain."""
    backend = backend or keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return any(has_usable_backend(inner) for inner in backend.backends)
    return True


def read_secret(name: str, what: str = "secret") -> str:
    """The secret stored under service 'hmi', entry ``name``; ``what`` names it in errors.

    Blocking (D-Bus on Linux): call it through asyncio.to_thread.
    """
    backend = keyring.get_keyring()
    if not has_usable_backend(backend):
        raise NoKeyringBackendError(backend.name, what)
    try:
        secret = keyring.get_password(SERVICE, name)
    except keyring.errors.NoKeyringError as exc:
        raise NoKeyringBackendError(backend.name, what) from exc
    except keyring.errors.KeyringError as exc:
        raise SecretError(
            f"the keyring ({backend.name}) refused to give the {what} "
            f"'{name}': {exc}; unlock the keyring and try again"
        ) from exc
    if not secret:
        raise MissingSecretError(name, what)
    return secret


def write_secret(name: str, secret: str, what: str = "secret") -> bool:
    """Store ``secret`` under service 'hmi', entry ``name``; True when it replaced one.

    Blocking, like read_secret. Never logs or repeats the value.
    """
    backend = keyring.get_keyring()
    if not has_usable_backend(backend):
        raise NoKeyringBackendError(backend.name, what, "stored")
    try:
        replaced = bool(keyring.get_password(SERVICE, name))
        keyring.set_password(SERVICE, name, secret)
    except keyring.errors.NoKeyringError as exc:
        raise NoKeyringBackendError(backend.name, what, "stored") from exc
    except keyring.errors.KeyringError as exc:
        raise SecretError(
            f"the keyring ({backend.name}) refused to store the {what} "
            f"'{name}': {type(exc).__name__}; unlock the keyring and try again"
        ) from None  # the backend's own message might quote what it was given
    log.info("stored the %s '%s' in the keyring (%s)", what, name, backend.name)
    return replaced


def read_api_key(link: MesLink) -> str:
    """The API key for ``link``."""
    return read_secret(link.api_key_secret, "MES API key")


def read_password(name: str) -> str:
    """An OPC UA user's password (the devices' password provider)."""
    return read_secret(name, "OPC UA password")


class MemoryKeyring(keyring.backend.KeyringBackend):
    """In-memory keyring for the demo and tests; lost at exit, never chosen on its own."""

    # keyring asks every backend class for its priority when it picks one by itself;
    # raising makes this one not 'viable', so a real site never ends up on it.
    @properties.classproperty
    def priority(cls) -> float:  # noqa: N805 (a class property: cls is right)
        raise RuntimeError("MemoryKeyring is only used when installed explicitly")

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._secrets: dict[tuple[str, str], str] = {}

    def __str__(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__} (in memory, demo/test only)"

    def get_password(self, service: str, username: str) -> str | None:
        return self._secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self._secrets.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(f"no secret {service}/{username}")


def install_memory_keyring(secrets: dict[str, str] | None = None) -> MemoryKeyring:
    """Make a fresh MemoryKeyring the process keyring, holding ``{name: secret}`` under 'hmi'."""
    backend = MemoryKeyring()
    for name, secret in (secrets or {}).items():
        backend.set_password(SERVICE, name, secret)
    keyring.set_keyring(backend)
    log.info("using an in-memory keyring (demo/test only). %s", BACKEND_ADVICE)
    return backend
