"""The demo plant model: values move within a few seconds and stay plausible."""

from __future__ import annotations

from hmi.sim.plant import FillingLine, MachineState


def _run(line: FillingLine, start: float, seconds: float, dt: float = 0.1) -> float:
    t = start
    for _ in range(int(seconds / dt)):
        t += dt
        line.step(t)
    return t


def test_values_move_and_stay_plausible() -> None:
    line = FillingLine(seed=3)
    line.step(1000.0)
    first = (line.speed, line.tank_level, line.product_temp, line.capper_torque)
    good0 = line.good_count
    _run(line, 1000.0, 5.0)
    assert (line.speed, line.tank_level, line.product_temp, line.capper_torque) != first
    assert line.machine_state is MachineState.RUNNING
    assert 100 < line.speed < 140
    assert 3.0 < line.product_temp < 5.0
    assert 2.0 < line.capper_torque < 3.0
    assert 40.0 < line.capper_temp < 50.0
    assert line.good_count - good0 >= 8  # ~2 bottles/s
    assert 1000 < line.fill_pressure < 2000
    assert 0 <= line.valve_position <= 1000
    assert line.capper_state == "RUNNING"


def test_long_run_counts_rejects_refills_and_faults() -> None:
    line = FillingLine(seed=5)
    line.step(0.0)
    levels: list[float] = []
    states: set[MachineState] = set()
    t = 0.0
    for _ in range(12_000):  # 20 minutes at 10 Hz
        t += 0.1
        line.step(t)
        levels.append(line.tank_level)
        states.add(line.machine_state)
    assert min(levels) >= 15.0
    assert max(levels) <= 95.0
    assert max(levels) - min(levels) > 50.0  # a full drain/refill cycle
    assert MachineState.FAULTED in states
    parts = line.good_count + line.reject_count
    assert 0.003 < line.reject_count / parts < 0.04
    assert line.cases_packed == line.good_count // 12


def test_run_command_false_stops_the_line() -> None:
    line = FillingLine()
    t = _run(line, 0.0, 1.0)
    line.run_command = False
    line.step(t + 0.1)
    assert line.speed == 0.0
    assert line.machine_state is MachineState.STOPPED
    assert line.capper_state == "STOPPED"
    count = line.good_count
    _run(line, t + 0.1, 3.0)
    assert line.good_count == count


def test_same_seed_same_values() -> None:
    a, b = FillingLine(seed=9), FillingLine(seed=9)
    _run(a, 0.0, 2.0)
    _run(b, 0.0, 2.0)
    assert (a.speed, a.good_count, a.product_temp) == (b.speed, b.good_count, b.product_temp)
