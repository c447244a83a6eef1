"""Fee formulas as data, evaluated safely in Decimal (R-FEE-1).

A formula is parsed once with `ast` and compiled into closures over Decimal
operations; nothing reaches `eval`, and only this grammar is accepted::

    number    := literal | name | number (+ | - | * | /) number | -number | (number)
               | number if condition else number
               | min(number, number, ...) | max(number, number, ...) | abs(number)
               | round_half_up(number, places) | round_half_even(...)
               | round_down(...) | round_up(...)            places: 0..18, default 0
    condition := number (< | <= | > | >= | == | !=) number [...more comparisons]
               | condition and condition | condition or condition | not condition
               | (condition)
    literal   := digits [. digits]                          read exactly from the text

Numbers and conditions are separate types, checked at definition: `price and 1`
or a formula whose result is `price > 0` is refused when it is defined, not on
some later order. Exponent notation (`1e3`), hex, underscores, `**`, `//`, `%`,
strings, attribute access, subscripts, lambdas and any other call are refused
with InvalidRule.

Arithmetic: + - * and unary minus are exact (needing more than 60 significant
digits is an error, never a silent rounding); / rounds half-even at 60
significant digits; the round_* functions round to `places` decimals with their
policy (half-up and up round away from zero, so a refund mirrors its sale).
`and`, `or` and `a if c else b` short-circuit, so `a / b if b != 0 else 0` never
divides by zero; a division by zero that does happen raises FeeDivisionByZero.
"""

from __future__ import annotations

import ast
import decimal
import operator
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Final

from attrs import field, frozen

from settlement_core.errors import InvalidRule
from settlement_core.fees.errors import FeeDivisionByZero, FeeEvaluationError, MissingFactor
from settlement_core.fees.values import (
    EXACT,
    FUNCTIONS,
    PRECISION,
    ROUNDED,
    check_name,
    factor_value,
)

__all__ = ["Formula", "MAX_FORMULA_LENGTH", "MAX_PLACES"]

MAX_FORMULA_LENGTH: Final = 1000
MAX_PLACES: Final = 18
# Nesting beyond this is unreadable as configuration and risks the recursion limit.
_MAX_DEPTH: Final = 60

_Values = Mapping[str, Decimal]
_Number = Callable[[_Values], Decimal]
_Condition = Callable[[_Values], bool]

_LITERAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")

_ROUNDERS: Final = {
    "round_half_up": decimal.ROUND_HALF_UP,
    "round_half_even": decimal.ROUND_HALF_EVEN,
    "round_down": decimal.ROUND_DOWN,
    "round_up": decimal.ROUND_UP,
}

_COMPARISONS: Final[dict[type[ast.cmpop], Callable[[Decimal, Decimal], bool]]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}

# Readable names for what the grammar refuses, so the error says what to fix.
_REFUSED: Final[dict[type[ast.AST], str]] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Slice: "slices",
    ast.Lambda: "lambdas",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dicts",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generator expressions",
    ast.NamedExpr: "assignment expressions",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.Starred: "star arguments",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Pow: "the operator **",
    ast.FloorDiv: "the operator //",
    ast.Mod: "the operator %",
    ast.MatMult: "the operator @",
    ast.LShift: "the operator <<",
    ast.RShift: "the operator >>",
    ast.BitOr: "the operator |",
    ast.BitAnd: "the operator &",
    ast.BitXor: "the operator ^",
    ast.Invert: "the operator ~",
    ast.UAdd: "unary +",
    ast.Is: "the operator is",
    ast.IsNot: "the operator is not",
    ast.In: "the operator in",
    ast.NotIn: "the operator not in",
}


def _clean_source(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidRule(f"a formula must be a string, got {type(value).__name__}")
    source = value.strip()
    if not source:
        raise InvalidRule("a formula must not be empty")
    if len(source) > MAX_FORMULA_LENGTH:
        raise InvalidRule(f"a formula is at most {MAX_FORMULA_LENGTH} characters long")
    return source


def _depth(tree: ast.AST) -> int:
    # Iterative, so measuring a hostile formula cannot itself hit the recursion limit.
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


class _Compiler:
    """Turns one parsed formula into closures, refusing anything outside the grammar."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.names: dict[str, None] = {}  # an ordered set: first mention first

    def fail(self, message: str) -> InvalidRule:
        return InvalidRule(f"formula {self.source!r}: {message}")

    def text(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or type(node).__name__

    def refuse(self, what: ast.AST, where: ast.AST) -> InvalidRule:
        # `what` may be an operator node, which has no source position: quote `where`.
        described = _REFUSED.get(type(what), f"{type(what).__name__} expressions")
        return self.fail(f"not allowed: {described} in {self.text(where)!r}")

    def number(self, node: ast.expr) -> _Number:
        if isinstance(node, ast.Constant):
            return self.literal(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.arithmetic(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.number(node.operand)
            return lambda values: -inner(values)
        if isinstance(node, ast.IfExp):
            test = self.condition(node.test)
            body = self.number(node.body)
            orelse = self.number(node.orelse)
            return lambda values: body(values) if test(values) else orelse(values)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Compare | ast.BoolOp) or (
            isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
        ):
            raise self.fail(f"expected a number, got the condition {self.text(node)!r}")
        if isinstance(node, ast.UnaryOp):
            raise self.refuse(node.op, node)
        raise self.refuse(node, node)

    def condition(self, node: ast.expr) -> _Condition:
        if isinstance(node, ast.Compare):
            return self.comparison(node)
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(value) for value in node.values]
            if isinstance(node.op, ast.And):
                return lambda values: all(part(values) for part in parts)
            return lambda values: any(part(values) for part in parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.condition(node.operand)
            return lambda values: not inner(values)
        if isinstance(node, ast.Constant | ast.Name | ast.BinOp | ast.Call | ast.IfExp) or (
            isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
        ):
            raise self.fail(
                f"expected a condition (a comparison, and, or, not), got {self.text(node)!r}"
            )
        if isinstance(node, ast.UnaryOp):
            raise self.refuse(node.op, node)
        raise self.refuse(node, node)

    def literal(self, node: ast.Constant) -> _Number:
        value = node.value
        text = self.text(node)
        if isinstance(value, str):
            raise self.fail(f"strings are not allowed: {text!r}")
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise self.fail(f"the constant {text} is not allowed")
        if isinstance(value, bytes):
            raise self.fail(f"bytes are not allowed: {text!r}")
        if isinstance(value, complex):
            raise self.fail(f"imaginary numbers are not allowed: {text!r}")
        if not _LITERAL.fullmatch(text):
            raise self.fail(
                f"write numbers as plain decimals such as 1000 or 0.25, got {text!r} "
                "(no exponent, hex or underscores)"
            )
        # From the source text, never from the float Python parsed: 0.1 stays 0.1.
        number = Decimal(text)
        return lambda _values: number

    def name(self, node: ast.Name) -> _Number:
        if node.id in FUNCTIONS:
            raise self.fail(f"{node.id} is a function; call it as {node.id}(...)")
        check_name(node.id, "name")
        if self.text(node) != node.id:
            raise self.fail(f"name {self.text(node)!r} is not in Unicode normal form NFKC")
        name = node.id
        self.names[name] = None
        return lambda values: values[name]

    def arithmetic(self, node: ast.BinOp) -> _Number:
        if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
            raise self.refuse(node.op, node)
        left = self.number(node.left)
        right = self.number(node.right)
        if isinstance(node.op, ast.Add):
            return lambda values: left(values) + right(values)
        if isinstance(node.op, ast.Sub):
            return lambda values: left(values) - right(values)
        if isinstance(node.op, ast.Mult):
            return lambda values: left(values) * right(values)
        source, divisor = self.source, self.text(node.right)

        def divide(values: _Values) -> Decimal:
            dividend = left(values)
            by = right(values)
            if not by:
                raise FeeDivisionByZero(f"formula {source!r} divides by zero: {divisor} is 0")
            with decimal.localcontext(ROUNDED):
                return dividend / by

        return divide

    def comparison(self, node: ast.Compare) -> _Condition:
        checks: list[tuple[Callable[[Decimal, Decimal], bool], _Number]] = []
        for op, operand in zip(node.ops, node.comparators, strict=True):
            compare = _COMPARISONS.get(type(op))
            if compare is None:
                raise self.refuse(op, node)
            checks.append((compare, self.number(operand)))
        first = self.number(node.left)

        def chain(values: _Values) -> bool:
            # Python's chaining: a < b <= c is a < b and b <= c, each operand evaluated once.
            left = first(values)
            for compare, operand in checks:
                right = operand(values)
                if not compare(left, right):
                    return False
                left = right
            return True

        return chain

    def call(self, node: ast.Call) -> _Number:
        func = node.func
        if not isinstance(func, ast.Name):
            raise self.refuse(func, node)
        name = func.id
        if name not in FUNCTIONS:
            raise self.fail(
                f"unknown function {name!r}; the functions are {', '.join(sorted(FUNCTIONS))}"
            )
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.refuse(arg, node)
        if name in _ROUNDERS:
            return self.rounding(node, name)
        if node.keywords:
            raise self.fail(f"{name}() takes no keyword arguments: {self.text(node)!r}")
        args = [self.number(arg) for arg in node.args]
        if name == "abs":
            if len(args) != 1:
                raise self.fail(f"abs() takes exactly one argument: {self.text(node)!r}")
            (inner,) = args
            return lambda values: abs(inner(values))
        if len(args) < 2:
            raise self.fail(f"{name}() needs at least two arguments: {self.text(node)!r}")
        pick = min if name == "min" else max
        return lambda values: pick(arg(values) for arg in args)

    def rounding(self, node: ast.Call, name: str) -> _Number:
        places_node: ast.expr | None = None
        for keyword in node.keywords:
            if keyword.arg != "places":
                raise self.fail(f"{name}() takes only the keyword places: {self.text(node)!r}")
            places_node = keyword.value
        if len(node.args) == 2 and places_node is None:
            places_node = node.args[1]
        elif len(node.args) != 1:
            raise self.fail(f"{name}() takes a number and optional places: {self.text(node)!r}")
        places = 0 if places_node is None else self.places(places_node, name)
        inner = self.number(node.args[0])
        quantum = Decimal((0, (1,), -places))
        mode = _ROUNDERS[name]

        def round_to_places(values: _Values) -> Decimal:
            with decimal.localcontext(ROUNDED):
                return inner(values).quantize(quantum, rounding=mode)

        return round_to_places

    def places(self, node: ast.expr, name: str) -> int:
        text = self.text(node)
        if (
            not isinstance(node, ast.Constant)
            or isinstance(node.value, bool)
            or not isinstance(node.value, int)
            or not text.isdigit()
            or node.value > MAX_PLACES
        ):
            raise self.fail(
                f"{name}() places must be a whole number from 0 to {MAX_PLACES}, got {text!r}"
            )
        return node.value


def _compile(source: str) -> tuple[_Number, tuple[str, ...], bool]:
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise InvalidRule(f"formula {source!r} is not valid syntax: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise InvalidRule(f"formula {source!r} nests too deeply") from None
    if _depth(tree) > _MAX_DEPTH:
        raise InvalidRule(f"formula {source!r} nests too deeply")
    compiler = _Compiler(source)
    run = compiler.number(tree.body)
    body = tree.body
    rounds_itself = (
        isinstance(body, ast.Call) and isinstance(body.func, ast.Name) and body.func.id in _ROUNDERS
    )
    return run, tuple(compiler.names), rounds_itself


@frozen
class Formula:
    """A compiled fee formula; also a Calculator whose inputs are the names it mentions."""

    source: str = field(converter=_clean_source)
    # Factor and fee names the formula mentions, in order of first mention.
    inputs: tuple[str, ...] = field(init=False, eq=False)
    # True when the outermost operation is a round_* call, so the formula fixes its
    # own rounding and a fee may use it without a separate Rounding.
    rounds_itself: bool = field(init=False, eq=False, repr=False)
    _run: _Number = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        run, inputs, rounds_itself = _compile(self.source)
        # Derived once here so a Formula stays an immutable, comparable value.
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "rounds_itself", rounds_itself)
        object.__setattr__(self, "_run", run)

    def evaluate(self, values: Mapping[str, object]) -> Decimal:
        """The formula's exact value for these factor values (extra names are ignored)."""
        missing = [name for name in self.inputs if name not in values]
        if missing:
            raise MissingFactor(missing, f"formula {self.source!r}")
        checked = {name: factor_value(name, values[name]) for name in self.inputs}
        try:
            with decimal.localcontext(EXACT):
                return self._run(checked)
        except decimal.DecimalException as exc:
            raise FeeEvaluationError(
                f"formula {self.source!r} needs more than {PRECISION} significant digits "
                "or overflows for these factors"
            ) from exc

    def calculate(self, values: Mapping[str, Decimal]) -> Decimal:
        """The Calculator protocol's name for `evaluate`."""
        return self.evaluate(values)
