"""The horn: each priority has its sound, repeated until the alarms that started it are
acknowledged or silenced.

Silence is not acknowledge (ISA-18.2): it stops the sound for the alarms sounding now;
they stay unacknowledged, and a new alarm (or a new occurrence of one) sounds again.
The most urgent unacknowledged, unsilenced, active alarm chooses the sound.

The sound goes out through the platform: Windows' own player (winsound), elsewhere the
first of PipeWire's, PulseAudio's or ALSA's command-line players that is installed. A
station with none says so in the status bar: the alarms are shown, not sounded, and
the engineer who commissions it must know.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from hmi.core.alarm_rules import Priority
from hmi.core.alarm_states import AlarmState
from hmi.gui.alarm_model import AlarmSummaryModel

log = logging.getLogger(__name__)
PLAYERS = (("pw-play",), ("paplay",), ("aplay", "-q"))
POLL_MS = 200


def sound_file(priority: Priority) -> Path:
    return Path(str(resources.files("hmi.resources").joinpath(
        f"sounds/alarm-{priority.value}.wav")))


class SoundPlayer(Protocol):
    problem: str  # why nothing can be heard ("" when a player is there)

    def play(self, path: Path) -> None:
        """Play ``path`` again and again until ``stop`` (replaces what plays)."""
        ...

    def stop(self) -> None: ...

    def poll(self) -> None:
        """Called often: start the sound again when it ended."""
        ...


class CommandPlayer:
    """Plays with a command-line player (``command`` + the file), started again each
    time it ends."""

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = list(command) if command is not None else _find_player()
        self.problem = "" if self.command else (
            "no sound output on this station (none of pw-play, paplay, aplay is "
            "installed): alarms are shown, not sounded")
        self._path: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def play(self, path: Path) -> None:
        if path == self._path and self._process is not None:
            return
        self.stop()
        self._path = path
        self._start()

    def stop(self) -> None:
        self._path = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                process.kill()

    def poll(self) -> None:
        if self._path is not None and (self._process is None
                                       or self._process.poll() is not None):
            self._start()

    def _start(self) -> None:
        if not self.command or self._path is None:
            return
        try:
            self._process = subprocess.Popen(  # noqa: S603 (a player from PLAYERS + our file)
                [*self.command, str(self._path)], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            self.problem = f"the sound player {self.command[0]} cannot start: {exc}"
            log.error("alarm sound: %s", self.problem)
            self.command = []


class WindowsPlayer:  # pragma: no cover - Windows only
    problem = ""

    def __init__(self) -> None:
        import winsound  # noqa: PLC0415 (Windows only)

        self._winsound = winsound
        self._path: Path | None = None

    def play(self, path: Path) -> None:
        if path != self._path:
            w = self._winsound
            w.PlaySound(str(path), w.SND_FILENAME | w.SND_ASYNC | w.SND_LOOP)  # type: ignore[attr-defined,unused-ignore]
            self._path = path

    def stop(self) -> None:
        if self._path is not None:
            self._winsound.PlaySound(None, 0)  # type: ignore[attr-defined,unused-ignore]
            self._path = None

    def poll(self) -> None:
        return None


def _find_player() -> list[str]:
    for command in PLAYERS:
        if shutil.which(command[0]):
            return list(command)
    return []


def platform_player() -> SoundPlayer:
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return WindowsPlayer()
    return CommandPlayer()


class Annunciator(QObject):
    """Follows the active alarm list; ``sounding`` is the priority heard now (None:
    quiet). ``changed`` when that changes."""

    changed = Signal()

    def __init__(self, model: AlarmSummaryModel, player: SoundPlayer,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.player = player
        self.sounding: Priority | None = None
        self._silenced: set[tuple[str, int]] = set()  # (alarm, occurrence)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._on_poll)
        model.changed.connect(self.update)
        self.update()

    def _on_poll(self) -> None:
        self.player.poll()  # the player of now (use_player may change it)

    def use_player(self, player: SoundPlayer) -> None:
        """Sound through ``player`` from now on (what sounds goes on in it)."""
        self.player.stop()
        self.player = player
        if self.sounding is not None:
            player.play(sound_file(self.sounding))
        self.changed.emit()

    def _calling(self) -> list[tuple[Priority, tuple[str, int]]]:
        return [(row.rule.priority, (row.name, row.record.occurrence))
                for row in self._model.rows() if row.state is AlarmState.UNACKED]

    def update(self) -> None:
        calling = self._calling()
        keys = {key for _, key in calling}
        self._silenced &= keys  # acknowledged or cleared: forgotten
        loud = [priority for priority, key in calling if key not in self._silenced]
        sounding = min(loud, key=lambda p: p.rank) if loud else None
        if sounding is not self.sounding:
            self.sounding = sounding
            if sounding is None:
                self.player.stop()
                self._poll.stop()
            else:
                self.player.play(sound_file(sounding))
                self._poll.start()
            self.changed.emit()

    def silence(self) -> int:
        """Stop the sound for every alarm calling now; returns how many."""
        calling = self._calling()
        self._silenced |= {key for _, key in calling}
        log.info("alarm horn silenced (%d alarms unacknowledged)", len(calling))
        self.update()
        return len(calling)

    def stop(self) -> None:
        self._poll.stop()
        self.player.stop()
        self.sounding = None
