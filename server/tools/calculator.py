"""The ``calculator`` tool: arithmetic for models, which are unreliable at it.

The expression is parsed with ``ast`` and only numbers, arithmetic operators and
a short list of math functions are evaluated: never ``eval``, so a model (or a
prompt injected into it) cannot reach names, attributes or imports. Results
that would be huge are refused before they are computed.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from pydantic_ai import Tool

SUMMARY = "Evaluates arithmetic expressions exactly (+ - * / // % **, sqrt, sin, log, pi, ...)."

MAX_EXPRESSION_CHARS = 1000
MAX_INT_BITS = 4000  # about 1200 decimal digits: plenty for arithmetic, cheap to print

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}

_FUNCTIONS: dict[str, tuple[Callable[..., Number], tuple[int, int]]] = {
    "sqrt": (math.sqrt, (1, 1)),
    "sin": (math.sin, (1, 1)),
    "cos": (math.cos, (1, 1)),
    "tan": (math.tan, (1, 1)),
    "log": (math.log, (1, 2)),
    "log10": (math.log10, (1, 1)),
    "exp": (math.exp, (1, 1)),
    "abs": (abs, (1, 1)),
    "round": (round, (1, 2)),
    "floor": (math.floor, (1, 1)),
    "ceil": (math.ceil, (1, 1)),
}

_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


class CalculatorError(Exception):
    """A problem to report to the model as text, not to raise to the agent."""


class Options(BaseModel):
    """The calculator takes no options."""

    model_config = ConfigDict(extra="forbid")


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression and return the exact result.

    Use this for any arithmetic instead of computing it yourself. Supports numbers,
    + - * / // % ** (power), parentheses, unary minus, the functions sqrt, sin, cos,
    tan (radians), log (natural, or log(x, base)), log10, exp, abs, round, floor,
    ceil, and the constants pi and e. Example: "sqrt(2) * (3 + 4) ** 2".

    Args:
        expression: The arithmetic expression to evaluate, in Python syntax.
    """
    try:
        return format_number(evaluate(expression))
    except CalculatorError as exc:
        return f"Error: {exc}"
    except ZeroDivisionError:
        return "Error: division by zero"
    except OverflowError:
        return "Error: result too large"
    except ValueError as exc:  # math domain errors: sqrt(-1), log(0)
        return f"Error: {exc}"
    except (RecursionError, MemoryError):
        return "Error: expression too complex"


def evaluate(expression: str) -> Number:
    """The value of ``expression``; raises ``CalculatorError`` for anything but arithmetic."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError):
        raise CalculatorError("could not parse the expression") from None
    return _eval(tree.body)


def format_number(value: Number) -> str:
    """Whole numbers without ``.0``; floats to 15 significant digits (hides 0.1+0.2 noise)."""
    if isinstance(value, float):
        if math.isnan(value):
            raise CalculatorError("the result is undefined")
        if math.isinf(value):
            raise OverflowError
        if value.is_integer() and abs(value) <= 2**53:  # exactly representable
            return str(int(value))
        return format(value, ".15g")
    return str(value)


def build(options: Options) -> list[Tool]:
    # Imported here: pydantic-ai takes about a second to import, and config
    # loading (which only validates tool names) should not pay for it.
    from pydantic_ai import Tool

    return [Tool(calculator, name="calculator", takes_ctx=False)]


def _eval(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalculatorError("only numbers are allowed")
        return _checked(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        value = _eval(node.operand)
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp):
        return _binary(node)
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise CalculatorError(f"unknown name '{node.id}'")
    if isinstance(node, ast.Call):
        return _call(node)
    if isinstance(node, ast.Attribute):
        raise CalculatorError("attribute access is not allowed")
    raise CalculatorError("only arithmetic is allowed")


def _binary(node: ast.BinOp) -> Number:
    if isinstance(node.op, ast.BitXor):
        raise CalculatorError("'^' is not supported; use ** for powers")
    left, right = _eval(node.left), _eval(node.right)
    if isinstance(node.op, ast.Pow):
        return _checked(_power(left, right))
    function = _BINARY.get(type(node.op))
    if function is None:
        raise CalculatorError("only + - * / // % ** are supported")
    return _checked(function(left, right))


def _power(base: Number, exponent: Number) -> Number:
    """``base ** exponent``, refused when an integer result would be enormous."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if abs(base) > 1 and (base.bit_length() - 1) * exponent > MAX_INT_BITS:
            raise CalculatorError("result too large")
        return base**exponent
    if base == 0 and exponent < 0:
        raise ZeroDivisionError
    return math.pow(base, exponent)  # floats: raises OverflowError rather than returning inf


def _call(node: ast.Call) -> Number:
    if not isinstance(node.func, ast.Name):
        raise CalculatorError("only the listed math functions can be called")
    name = node.func.id
    if name not in _FUNCTIONS:
        raise CalculatorError(f"unknown function '{name}'")
    if node.keywords:
        raise CalculatorError(f"{name}() takes no keyword arguments")
    function, (least, most) = _FUNCTIONS[name]
    if not least <= len(node.args) <= most:
        raise CalculatorError(f"wrong number of arguments for {name}()")
    args = [_eval(arg) for arg in node.args]
    if name == "round" and len(args) == 2 and not isinstance(args[1], int):
        raise CalculatorError("round() needs a whole number of digits")
    return _checked(function(*args))


def _checked(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalculatorError("result too large")
    if isinstance(value, float) and math.isinf(value):
        raise OverflowError
    return value
