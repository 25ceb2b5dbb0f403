"""The demo filling line: a small, seeded physics model the PLC simulators serve.

Pure Python and time-driven (``step(now)`` with wall time), so the Modbus and OPC UA
servers can share one plant and tests can drive it with a fake clock.
"""

from __future__ import annotations

import enum
import math
import random

_UINT32 = 0xFFFFFFFF


class MachineState(enum.IntEnum):
    """Filler state as the PLC reports it in Filler.State."""

    STOPPED = 0
    RUNNING = 1
    FAULTED = 2
    STARVED = 3


NOMINAL_SPEED = 120.0  # bottles per minute
REJECT_RATE = 0.015
BOTTLES_PER_CASE = 12
TANK_REFILL_START = 20.0  # % level at which the refill valve opens
TANK_REFILL_STOP = 90.0
TANK_STARVED = 5.0  # below this the filler has nothing to fill
TANK_LOW = 25.0
_DRAIN_PER_BOTTLE = 0.25  # % of tank per bottle: ~0.5 %/s at nominal speed
_REFILL_RATE = 2.5  # %/s while the refill valve is open
_FAULT_EVERY = (120.0, 300.0)  # seconds between faults, uniform
_FAULT_LENGTH = (8.0, 12.0)
_MAX_STEP = 5.0  # larger gaps (a paused process) are not simulated in one go


class FillingLine:
    """A bottle filler with its product tank and a capper behind it."""

    def __init__(self, seed: int = 1) -> None:
        self._rng = random.Random(seed)
        self._last: float | None = None
        self._t0 = 0.0
        self._part_accumulator = 0.0
        self._refilling = False
        self._next_fault_at = 0.0
        self._fault_until = 0.0
        self.run_command = True
        self.fault = False
        self.speed = 0.0
        self.tank_level = 60.0
        self.product_temp = 4.0
        self.fill_pressure = 1013  # mbar, ambient when stopped
        self.valve_position = 0  # per mille
        self.good_count = 0
        self.reject_count = 0
        self.machine_state = MachineState.STOPPED
        self.capper_torque = 0.0
        self.capper_temp = 44.0
        self.cases_packed = 0
        self.capper_state = "STOPPED"

    @property
    def tank_low(self) -> bool:
        return self.tank_level < TANK_LOW

    def step(self, now: float) -> None:
        """Advance the model to wall time ``now`` (POSIX seconds)."""
        if self._last is None:
            self._last = now
            self._t0 = now
            self._next_fault_at = now + self._rng.uniform(*_FAULT_EVERY)
            self._update_outputs(now, 0.0)
            return
        dt = min(max(now - self._last, 0.0), _MAX_STEP)
        self._last = now
        self._update_fault(now)
        self._update_outputs(now, dt)

    def _update_fault(self, now: float) -> None:
        if self.fault and now >= self._fault_until:
            self.fault = False
            self._next_fault_at = now + self._rng.uniform(*_FAULT_EVERY)
        elif not self.fault and now >= self._next_fault_at:
            self.fault = True
            self._fault_until = now + self._rng.uniform(*_FAULT_LENGTH)

    def _update_state(self) -> MachineState:
        if self.fault:
            return MachineState.FAULTED
        if not self.run_command:
            return MachineState.STOPPED
        if self.tank_level <= TANK_STARVED:
            return MachineState.STARVED
        return MachineState.RUNNING

    def _update_outputs(self, now: float, dt: float) -> None:
        t = now - self._t0
        gauss = self._rng.gauss
        self.machine_state = self._update_state()
        running = self.machine_state is MachineState.RUNNING
        if running:
            wobble = 3.0 * math.sin(2 * math.pi * t / 45.0)
            self.speed = max(0.0, NOMINAL_SPEED + wobble + gauss(0.0, 1.0))
            self.fill_pressure = round(1500 + 40 * math.sin(2 * math.pi * t / 30.0) + gauss(0, 8))
            self.valve_position = min(1000, max(0, round(620 + 80 * math.sin(t) + gauss(0, 10))))
        else:
            self.speed = 0.0
            self.fill_pressure = round(1013 + gauss(0, 2))
            self.valve_position = 0
        self._produce(dt)
        self._update_tank(dt)
        self.product_temp = (
            4.0
            + 0.6 * math.sin(2 * math.pi * t / 240.0)
            + 0.15 * math.sin(2 * math.pi * t / 17.0)
            + gauss(0.0, 0.03)
        )
        self._update_capper(t, dt, running)

    def _produce(self, dt: float) -> None:
        self._part_accumulator += self.speed / 60.0 * dt
        whole = int(self._part_accumulator)
        self._part_accumulator -= whole
        for _ in range(whole):
            if self._rng.random() < REJECT_RATE:
                self.reject_count = (self.reject_count + 1) & _UINT32
            else:
                self.good_count = (self.good_count + 1) & _UINT32
                if self.good_count % BOTTLES_PER_CASE == 0:
                    self.cases_packed = (self.cases_packed + 1) & _UINT32
        self.tank_level -= whole * _DRAIN_PER_BOTTLE

    def _update_tank(self, dt: float) -> None:
        if self.tank_level <= TANK_REFILL_START:
            self._refilling = True
        elif self.tank_level >= TANK_REFILL_STOP:
            self._refilling = False
        if self._refilling:
            self.tank_level += _REFILL_RATE * dt
        self.tank_level = min(100.0, max(0.0, self.tank_level))

    def _update_capper(self, t: float, dt: float, running: bool) -> None:
        gauss = self._rng.gauss
        if running:
            self.capper_torque = 2.5 + 0.08 * math.sin(2 * math.pi * t / 20.0) + gauss(0, 0.03)
            target_temp = 45.0 + 1.5 * math.sin(2 * math.pi * t / 180.0)
        else:
            self.capper_torque = 0.0
            target_temp = 30.0
        # first-order thermal lag, tau 60 s, so the capper cools visibly when stopped
        self.capper_temp += (target_temp - self.capper_temp) * min(1.0, dt / 60.0)
        self.capper_temp += gauss(0.0, 0.02)
        if self.machine_state is MachineState.FAULTED:
            self.capper_state = "FAULT"
        elif running:
            self.capper_state = "RUNNING"
        else:
            self.capper_state = "STOPPED"
