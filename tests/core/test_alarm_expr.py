"""Suppression conditions (hmi.core.alarm_expr): what parses, what it means, unknown
values never suppress, and errors that say where."""

from __future__ import annotations

import pytest

from hmi.core.alarm_expr import ExpressionError, parse_expression

VALUES = {"Line.Running": False, "Capper.State": "STOP", "Filler.Speed": 3.0,
          "Bits.On": 1, "Bad.Tag": None}


def holds(text: str, values=VALUES) -> bool:
    return parse_expression(text).holds(values.get)


@pytest.mark.parametrize(("text", "expected"), [
    ("not Line.Running", True),
    ("Line.Running", False),
    ("Bits.On", True),
    ('Capper.State == "STOP"', True),
    ('Capper.State != "STOP"', False),
    ('Capper.State == "STOP" and Filler.Speed < 5', True),
    ("Filler.Speed >= 3 and Filler.Speed <= 3.0", True),
    ("Filler.Speed > 5 or not (Line.Running or Bits.On == 0)", True),
    ("Line.Running == false", True),
    ("Bad.Tag == 0", False),  # unknown: never suppresses on a guess
    ("not Bad.Tag == 0", False),  # nor its negation
    ("not Bad.Tag", False),
    ("Unknown.Tag > 1", False),
    ("Bad.Tag == 0 and Line.Running", False),  # false and unknown: false
    ("Bad.Tag == 0 or Bits.On", True),  # true or unknown: true
    ("not (Bad.Tag == 0 and Line.Running)", True),  # not false
    ("not (Bad.Tag == 0 or Line.Running)", False),  # not unknown
    ('Filler.Speed == "fast"', False),
    ('Filler.Speed != "fast"', True),
    ("Filler.Speed < -1e3", False),
])
def test_conditions(text, expected):
    assert holds(text) is expected


def test_the_tags_a_condition_reads():
    expression = parse_expression('Capper.State == "STOP" and not Line.Running')
    assert expression.tags == {"Capper.State", "Line.Running"}


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty condition"),
    ("Line.Running ==", "the condition ends where a tag or a value was expected"),
    ("(Line.Running", "a '(' is not closed"),
    ("Line.Running Filler.Speed", "unexpected 'Filler.Speed' after a complete condition"),
    ("and Line.Running", "'and' where a tag or a value was expected"),
    ("Line.Running = 1", "cannot read '= 1'"),
])
def test_errors_say_what_is_wrong(text, message):
    with pytest.raises(ExpressionError, match=r"^" + __import__("re").escape(message)):
        parse_expression(text)
