"""API key from the keyring: clear errors with no backend or no secret; memory backend."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import keyring.backend
import pytest
from keyring.backends import chainer, fail

from hmi.core.site import MesLink
from hmi.mes.secrets import (
    MemoryKeyring,
    MissingSecretError,
    NoKeyringBackendError,
    install_memory_keyring,
    read_api_key,
)

LINK = MesLink(url="http://127.0.0.1:1/api/transactions", api_key_secret="mes-demo")


@pytest.fixture(autouse=True)
def restore_keyring() -> Iterator[None]:
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


def test_no_backend_says_which_backend_a_site_needs() -> None:
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    with pytest.raises(NoKeyringBackendError) as caught:
        read_api_key(LINK)
    text = str(caught.value)
    assert "no usable keyring backend" in text
    for needed in ("Secret Service", "secretstorage", "D-Bus", "keyrings.alt"):
        assert needed in text
    assert "Windows Credential Manager" in text
    assert "macOS Keychain" in text


def test_a_chainer_with_nothing_to_chain_is_no_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    keyring.set_keyring(chainer.ChainerBackend())  # type: ignore[no-untyped-call]
    with pytest.raises(NoKeyringBackendError):
        read_api_key(LINK)


def test_missing_secret_says_how_to_store_it() -> None:
    install_memory_keyring()
    with pytest.raises(MissingSecretError) as caught:
        read_api_key(LINK)
    assert "hmi secrets set mes-demo" in str(caught.value)


def test_memory_keyring_round_trip_and_never_autoselected() -> None:
    backend = install_memory_keyring({"mes-demo": "s3cret"})
    assert keyring.get_keyring() is backend
    assert read_api_key(LINK) == "s3cret"
    backend.delete_password("hmi", "mes-demo")
    with pytest.raises(MissingSecretError):
        read_api_key(LINK)
    # keyring never picks it by itself, so a real site cannot silently end up on it
    assert MemoryKeyring not in set(keyring.backend.KeyringBackend.get_viable_backends())
