"""Conditions over tags for alarm suppression by design, e.g. ``not Line.Running`` or
``Capper.State == "STOP" and Filler.Speed < 5``: parsed once, evaluated per change.

Grammar (keywords in lower case; a tag name as in the site file):

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand)?
    operand := TAG | NUMBER | "text" | true | false | "(" expr ")"

A tag alone holds when its value is true or non-zero. A tag whose value is unknown (no
sample yet, or BAD) is unknown, and so is what depends on it (``not``, a comparison; in
``and`` and ``or`` as logic has it: false and unknown is false, true or unknown is true):
the condition holds only when it is known to, so suppression never hides an alarm on a
guess.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from hmi.core.samples import Value

Lookup = Callable[[str], Value]  # a tag's current value; None when unknown
_Eval = Callable[[Lookup], Value | bool | None]

_TOKEN = re.compile(r"""\s*(?:
    (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<text>"[^"]*")
  | (?P<op>==|!=|<=|>=|<|>|\(|\))
  | (?P<name>[A-Za-z][A-Za-z0-9_.\-]*)
)""", re.VERBOSE)
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}
_KEYWORDS = {"and", "or", "not", "true", "false"}


def _truth(value: Value | bool | None) -> bool | None:
    """A value as a truth: None (unknown) stays unknown."""
    return None if value is None else bool(value)


class ExpressionError(ValueError):
    """The expression does not parse; the message says where and what was expected."""


@dataclass(frozen=True, slots=True)
class Expression:
    text: str
    tags: frozenset[str]
    _evaluate: _Eval

    def holds(self, lookup: Lookup) -> bool:
        """Known to hold (an unknown result does not)."""
        return _truth(self._evaluate(lookup)) is True


def parse_expression(text: str) -> Expression:
    tokens = _tokens(text)
    parser = _Parser(text, tokens)
    evaluate = parser.expr()
    if parser.at < len(tokens):
        raise ExpressionError(f"unexpected {tokens[parser.at][1]!r} after a complete "
                              "condition")
    return Expression(text, frozenset(parser.tags), evaluate)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise ExpressionError(f"cannot read {text[at:].strip()[:20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        at = match.end()
    if not tokens:
        raise ExpressionError("empty condition")
    return tokens


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, str]]) -> None:
        self.text = text
        self.tokens = tokens
        self.at = 0
        self.tags: set[str] = set()

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token[1] == word and token[0] in ("name", "op"):
            self.at += 1
            return True
        return False

    def expr(self) -> _Eval:
        return self._chain("or", self._and, True)

    def _and(self) -> _Eval:
        return self._chain("and", self._not, False)

    def _chain(self, word: str, part: Callable[[], _Eval], decides: bool) -> _Eval:
        """``part (word part)*``: ``decides`` (True for or, False for and) if any part is
        it, else unknown if any part is, else the other truth."""
        parts = [part()]
        while self._take(word):
            parts.append(part())
        if len(parts) == 1:
            return parts[0]

        def evaluate(lookup: Lookup) -> bool | None:
            truths = [_truth(each(lookup)) for each in parts]
            if decides in truths:
                return decides
            return None if None in truths else not decides
        return evaluate

    def _not(self) -> _Eval:
        if self._take("not"):
            inner = self._not()

            def negate(lookup: Lookup) -> bool | None:
                truth = _truth(inner(lookup))
                return None if truth is None else not truth
            return negate
        return self._compare()

    def _compare(self) -> _Eval:
        left = self._operand()
        token = self._peek()
        if token is None or token[1] not in _COMPARE:
            return left
        self.at += 1
        compare = _COMPARE[token[1]]
        right = self._operand()

        def evaluate(lookup: Lookup) -> bool | None:
            a, b = left(lookup), right(lookup)
            if a is None or b is None:
                return None  # unknown
            try:
                return bool(compare(a, b))
            except TypeError:  # text against a number: not equal, not ordered
                return compare is operator.ne
        return evaluate

    def _operand(self) -> _Eval:
        token = self._peek()
        if token is None:
            raise ExpressionError("the condition ends where a tag or a value was expected")
        kind, word = token
        self.at += 1
        if word == "(":
            inner = self.expr()
            if not self._take(")"):
                raise ExpressionError("a '(' is not closed")
            return inner
        if kind == "number":
            number = float(word)
            return lambda lookup: number
        if kind == "text":
            text = word[1:-1]
            return lambda lookup: text
        if kind == "name" and word in ("true", "false"):
            flag = word == "true"
            return lambda lookup: flag
        if kind == "name" and word not in _KEYWORDS:
            self.tags.add(word)
            return lambda lookup: lookup(word)
        raise ExpressionError(f"{word!r} where a tag or a value was expected")
