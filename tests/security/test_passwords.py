"""The dummy hash a wrong user name is checked against: made at first need (not at
import), once even when threads race to it, as costly to verify as a real one, and it
never lets anyone in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from argon2 import extract_parameters

from hmi.security.passwords import (
    _NO_ONES_PASSWORD,
    check_password,
    dummy_hash,
    hash_password,
    needs_rehash,
)

ROOT = Path(__file__).resolve().parents[2]

# In a fresh interpreter: how many dummy hashes importing made, then eight threads that
# all check a user who does not exist at once, and how many dummy hashes that made.
RACE = """
import json, threading
from hmi.security import passwords

made_at_import = passwords._hash_of_no_one.cache_info().misses
start = threading.Barrier(8)
answers = []

def wrong_name():
    start.wait()
    answers.append(passwords.check_password(None, "any password"))

threads = [threading.Thread(target=wrong_name) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"at_import": made_at_import, "answers": answers,
                  "made": passwords._hash_of_no_one.cache_info().misses}))
"""


def test_the_dummy_is_made_at_first_need_and_once_when_threads_race() -> None:
    result = subprocess.run(
        [sys.executable, "-c", RACE], cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["at_import"] == 0
    assert report["answers"] == [False] * 8
    assert report["made"] == 1


def test_a_wrong_name_costs_the_verify_of_a_real_hash() -> None:
    """Same algorithm and parameters as a user's hash, so the same argon2 work."""
    assert extract_parameters(dummy_hash()) == extract_parameters(hash_password("x"))
    assert not needs_rehash(dummy_hash())
    assert dummy_hash() == dummy_hash()


def test_no_hash_or_an_empty_one_never_matches_even_the_dummys_password() -> None:
    assert check_password(dummy_hash(), _NO_ONES_PASSWORD)  # the dummy itself is sound
    assert not check_password(None, _NO_ONES_PASSWORD)
    assert not check_password("", _NO_ONES_PASSWORD)
    assert not check_password(None, "")
