"""A keyring backend in a JSON file, for `hmi` subprocesses in the tests.

hmi.mes.secrets.MemoryKeyring lives in one process; a `hmi secrets set` subprocess and
the `hmi secrets check` after it need a store they share. Selected with
``PYTHON_KEYRING_BACKEND=tests.file_keyring.FileKeyring`` and the file named by
``HMI_TEST_KEYRING_FILE``; without that variable keyring never finds it viable, so it is
never picked by itself (and never on a real machine).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring.backend
import keyring.errors
from keyring.compat import properties

FILE_ENV = "HMI_TEST_KEYRING_FILE"
BACKEND = "tests.file_keyring.FileKeyring"


class FileKeyring(keyring.backend.KeyringBackend):
    @properties.classproperty
    def priority(cls) -> float:  # noqa: N805 (a class property: cls is right)
        if not os.environ.get(FILE_ENV):
            raise RuntimeError(f"FileKeyring needs {FILE_ENV} (tests only)")
        return 0.1

    @property
    def _path(self) -> Path:
        return Path(os.environ[FILE_ENV])

    def _load(self) -> dict[str, str]:
        try:
            return dict(json.loads(self._path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        secrets = self._load()
        secrets[f"{service}/{username}"] = password
        self._path.write_text(json.dumps(secrets), encoding="utf-8")

    def delete_password(self, service: str, username: str) -> None:
        secrets = self._load()
        if secrets.pop(f"{service}/{username}", None) is None:
            raise keyring.errors.PasswordDeleteError(f"no secret {service}/{username}")
        self._path.write_text(json.dumps(secrets), encoding="utf-8")
