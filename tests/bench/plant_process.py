"""The simulated plant of a benchmark in a child interpreter that the benchmark starts,
stops and reaps itself.

Not multiprocessing: its spawn start method also launches a resource tracker process
that outlives the benchmark by design; where PID 1 is no init that reaps orphans (a
container, a microVM) it stays behind as a defunct process. A plain subprocess has no
helper: the parent waits for it, so nothing is left.

The protocol is one JSON line each way on the child's stdout (ready, then results);
closing the child's stdin tells it to stop.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parents[2]
PLANT_FLAG = "--plant"  # argv of the child: <bench.py> --plant <json arguments>


class PlantProcess:
    """Parent side: ``script --plant <json>`` as a child, its messages, its end."""

    def __init__(self, script: str, arguments: list[Any]) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self._child = subprocess.Popen(
            [sys.executable, script, PLANT_FLAG, json.dumps(arguments)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )

    async def message(self, timeout: float = 120.0) -> Any:
        """The child's next message (its ports when ready, its results after ``stop``)."""
        assert self._child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self._child.stdout.readline), timeout)
        if not line:
            raise RuntimeError(f"the plant process ended (exit code {self._child.poll()})")
        return json.loads(line)

    def stop(self) -> None:
        """Ask the child to stop (it may still send its results)."""
        if self._child.stdin is not None and not self._child.stdin.closed:
            self._child.stdin.close()

    async def close(self, timeout: float = 15.0) -> None:
        """Stop the child and reap it: killed if it has not ended within ``timeout``."""
        self.stop()
        try:
            await asyncio.to_thread(self._child.wait, timeout)
        except subprocess.TimeoutExpired:
            self._child.kill()
            await asyncio.to_thread(self._child.wait)
        if self._child.stdout is not None:
            self._child.stdout.close()


class PlantSide:
    """Child side: ``send`` a message to the parent; ``is_set`` once it asked to stop."""

    def __init__(self) -> None:
        self._out: TextIO = sys.stdout
        sys.stdout = sys.stderr  # a stray print must not corrupt the messages
        self._stop = threading.Event()
        threading.Thread(target=self._watch, daemon=True, name="plant-stop").start()

    def _watch(self) -> None:
        sys.stdin.read()  # returns when the parent closes our stdin (or ends)
        self._stop.set()

    def is_set(self) -> bool:
        return self._stop.is_set()

    def send(self, message: Any) -> None:
        self._out.write(json.dumps(message) + "\n")
        self._out.flush()


def plant_arguments(argv: list[str]) -> list[Any] | None:
    """The arguments when this interpreter is a benchmark's plant child, else None."""
    if len(argv) == 3 and argv[1] == PLANT_FLAG:
        arguments: list[Any] = json.loads(argv[2])
        return arguments
    return None
