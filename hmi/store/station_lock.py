"""The station lock: one program at a time owns a data folder's alarm states.

The running app holds an exclusive OS lock on ``DATA/station.lock`` from
``Runtime.start`` to ``Runtime.stop`` (fcntl.flock on POSIX, msvcrt.locking on Windows).
A second app on the same folder is refused; an `hmi alarms ack` or `shelve` takes the
lock when no station runs and acts on the store itself, else hands its request to the
station (hmi.services.alarm_requests). The OS drops the lock when its process ends,
however it ends: a crash leaves no stale lock. The file says who took it last (process
and program), for the refusal message; that text is advice, the lock is the OS's.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import IO

from hmi.store.database import StoreError

LOCK_FILE = "station.lock"
_MAX_HOLDER = 200  # characters of the holder's line shown in a refusal


class StationBusyError(StoreError):
    """Another program holds the data folder's station lock."""


class StationLock:
    """The lock of the data folder ``data_dir``; ``program`` says who holds it
    (``hmi run``, ``hmi alarms ack``) in the message another program gets."""

    def __init__(self, data_dir: Path, program: str) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._program = program
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def try_acquire(self) -> bool:
        """Take the lock without waiting: True if this process holds it now."""
        if self._file is not None:
            return True
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            file = open(self.path, "a+b")  # noqa: SIM115 (held open until release)
        except OSError as exc:
            raise StoreError(f"cannot open the station lock {self.path}: {exc}; check the "
                             "data folder's permissions") from exc
        try:
            locked = _lock(file)
        except OSError as exc:
            file.close()
            raise StoreError(f"cannot lock {self.path}: {exc}; put the data folder on a "
                             "local disk") from exc
        if not locked:
            file.close()
            return False
        self._file = file
        _say_holder(file, self._program)
        return True

    def acquire(self) -> None:
        """Take the lock, or StationBusyError naming the folder and its holder."""
        if not self.try_acquire():
            raise StationBusyError(
                f"another HMI station is running on {self.data_dir}: {self.holder()} holds "
                f"{self.path}; stop it first, or give this one another data folder "
                "(--data DIR)")

    def release(self) -> None:
        file, self._file = self._file, None
        if file is None:
            return
        try:
            _unlock(file)
        finally:
            file.close()

    def holder(self) -> str:
        """Who took the lock last, as its file says (best effort)."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:  # Windows: the holder's locked byte cannot be read
            text = ""
        text = " ".join(text.split())[:_MAX_HOLDER]
        return text or "another program"


def _say_holder(file: IO[bytes], program: str) -> None:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    try:
        file.seek(0)
        file.truncate()
        file.write(f"process {os.getpid()} ({program}) since {started}\n".encode())
        file.flush()
    except OSError:
        pass  # only the message is poorer: the lock itself is held


if sys.platform == "win32":
    import msvcrt

    def _lock(file: IO[bytes]) -> bool:
        file.seek(0)
        try:  # byte 0, without waiting (LK_NBLCK); beyond the end of the file is allowed
            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
        except PermissionError:
            return False
        except OSError as exc:
            if exc.errno in (13, 36):  # EACCES, EDEADLOCK: another process holds it
                return False
            raise
        return True

    def _unlock(file: IO[bytes]) -> None:
        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(file: IO[bytes]) -> bool:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another open file (process) holds it
            return False
        return True

    def _unlock(file: IO[bytes]) -> None:
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)
