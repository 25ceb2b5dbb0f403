"""The station lock: one holder per data folder (another open of the file is refused, in
this process as in another), the refusal names the folder and the holder, and the lock
is free again once released."""

from __future__ import annotations

import os

import pytest

from hmi.store.station_lock import LOCK_FILE, StationBusyError, StationLock


def test_one_holder_per_folder_and_free_again_once_released(tmp_path):
    data = tmp_path / "data"  # made by the first lock
    first = StationLock(data, "hmi run")
    first.acquire()
    assert first.held
    assert (data / LOCK_FILE).read_text("utf-8").startswith(f"process {os.getpid()} (hmi run)")
    second = StationLock(data, "hmi alarms ack")
    assert second.try_acquire() is False
    with pytest.raises(StationBusyError, match=(
            rf"another HMI station is running on .*data: process {os.getpid()} \(hmi run\) "
            r"since .* holds .*station.lock; stop it first, or give this one another data "
            r"folder \(--data DIR\)")):
        second.acquire()
    other_folder = StationLock(tmp_path / "other", "hmi run")
    assert other_folder.try_acquire()
    other_folder.release()
    first.release()
    first.release()  # twice: harmless
    assert second.try_acquire()
    assert "(hmi alarms ack)" in (data / LOCK_FILE).read_text("utf-8")
    second.release()
