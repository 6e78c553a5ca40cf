"""Built-in tools: the calculator's arithmetic and safety, current_time, the registry."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic_ai import Tool

from server.tools import TOOL_NAMES, TOOLS, ToolRef, build_tools, validate_tool_options
from server.tools.calculator import calculator
from server.tools.current_time import current_time


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("6*7", "42"),
        ("5/2", "2.5"),
        ("4/2", "2"),
        ("2 + 3 * 4", "14"),
        ("(2 + 3) * 4", "20"),
        ("2 ** 3 ** 2", "512"),
        ("-2 ** 2", "-4"),
        ("+5 - -3", "8"),
        ("7 // 2", "3"),
        ("-7 % 3", "2"),
        ("0.1 + 0.2", "0.3"),
        ("2 ** 100", "1267650600228229401496703205376"),
        ("2 ** -2", "0.25"),
        ("1_000 + 1", "1001"),
        ("sqrt(16)", "4"),
        ("sqrt(2)", "1.4142135623731"),
        ("abs(-4.5)", "4.5"),
        ("round(2.567, 2)", "2.57"),
        ("round(7.5)", "8"),
        ("floor(-2.5)", "-3"),
        ("ceil(2.1)", "3"),
        ("log(8, 2)", "3"),
        ("log10(1000)", "3"),
        ("exp(0)", "1"),
        ("cos(0)", "1"),
        ("sin(0) + tan(0)", "0"),
        ("round(pi, 4)", "3.1416"),
        ("log(e)", "1"),
        ("1e3", "1000"),
    ],
)
def test_calculator_evaluates_arithmetic(expression: str, expected: str) -> None:
    assert calculator(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1/0", "Error: division by zero"),
        ("5 % 0", "Error: division by zero"),
        ("5 // 0.0", "Error: division by zero"),
        ("0 ** -1", "Error: division by zero"),
        ("sqrt(-1)", "Error: math domain error"),
        ("log(0)", "Error: math domain error"),
        ("", "Error: could not parse the expression"),
        ("1 +", "Error: could not parse the expression"),
        ("2 ^ 3", "Error: '^' is not supported; use ** for powers"),
        ("x + 1", "Error: unknown name 'x'"),
        ("sqrt(1, 2)", "Error: wrong number of arguments for sqrt()"),
        ("round(1.5, ndigits=1)", "Error: round() takes no keyword arguments"),
        ("'a' * 3", "Error: only numbers are allowed"),
        ("True + 1", "Error: only numbers are allowed"),
        ("1j * 2", "Error: only numbers are allowed"),
        ("[1, 2]", "Error: only arithmetic is allowed"),
        ("1 < 2", "Error: only arithmetic is allowed"),
        ("1 << 2", "Error: only + - * / // % ** are supported"),
    ],
)
def test_calculator_reports_errors_as_text(expression: str, expected: str) -> None:
    assert calculator(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('echo hacked')",
        "open('/etc/passwd')",
        "eval('1')",
        "exec('x = 1')",
        "().__class__.__bases__[0].__subclasses__()",
        "(1).real",
        "sqrt.__globals__",
        "lambda: 1",
        "[x for x in (1, 2)]",
        "pi.__class__",
        "(x := 5)",
    ],
)
def test_calculator_refuses_anything_but_arithmetic(expression: str) -> None:
    assert calculator(expression).startswith("Error: ")


@pytest.mark.parametrize(
    "expression",
    ["9 ** 9 ** 9", "2 ** 100000", "10 ** 1000 / 3", "2.0 ** 5000", "exp(1000)", "1e308 * 10"],
)
def test_calculator_refuses_huge_results(expression: str) -> None:
    assert calculator(expression) == "Error: result too large"


def test_calculator_refuses_huge_products_of_allowed_powers() -> None:
    assert calculator("2 ** 3000 * 2 ** 3000") == "Error: result too large"


def test_calculator_refuses_long_and_deep_expressions() -> None:
    assert calculator("1+" * 600 + "1").startswith("Error: expression longer than")
    assert calculator("-" * 990 + "1") in ("1", "Error: expression too complex")
    assert calculator("(" * 300 + "1" + ")" * 300).startswith("Error: ")


def test_current_time_is_iso_8601_in_utc_by_default() -> None:
    text = current_time()
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(0)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", text)


def test_current_time_in_a_named_zone() -> None:
    text = current_time("Asia/Kolkata")
    assert datetime.fromisoformat(text).utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../../etc/passwd", "Not A Zone"])
def test_current_time_unknown_zone(name: str) -> None:
    assert current_time(name) == f"Error: unknown timezone '{name}'"


def test_registry_lists_the_builtin_tools() -> None:
    assert {"calculator", "current_time"} <= set(TOOL_NAMES)
    assert all(TOOLS[name].summary for name in TOOL_NAMES)


def test_validate_tool_options_accepts_known_tools() -> None:
    validate_tool_options("calculator", {})
    validate_tool_options("current_time", {})


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("calculater", {}, "unknown tool 'calculater'; did you mean 'calculator'?"),
        ("spreadsheet", {}, f"unknown tool 'spreadsheet' (available: {', '.join(TOOL_NAMES)})"),
        (
            "calculator",
            {"precision": 3},
            "unknown option 'precision' for tool 'calculator' (its only option is 'approval')",
        ),
    ],
)
def test_validate_tool_options_explains_mistakes(
    name: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        validate_tool_options(name, options)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("calculator", ToolRef(name="calculator")),
        ({"calculator": None}, ToolRef(name="calculator")),
        ({"calculator": {"a": 1}}, ToolRef(name="calculator", options={"a": 1})),
        ({"name": "calculator", "options": {"a": 1}}, ToolRef(name="calculator", options={"a": 1})),
    ],
)
def test_tool_ref_accepts_the_yaml_forms(entry: object, expected: ToolRef) -> None:
    assert ToolRef.model_validate(entry) == expected


def test_build_tools_makes_pydantic_ai_tools() -> None:
    tools = build_tools([ToolRef(name="calculator"), ToolRef(name="current_time")])
    assert all(isinstance(tool, Tool) for tool in tools)
    assert [tool.name for tool in tools] == ["calculator", "current_time"]
    calculator_tool = tools[0]
    assert calculator_tool.takes_ctx is False
    assert "arithmetic" in (calculator_tool.description or "")
    schema = calculator_tool.function_schema.json_schema
    assert schema["required"] == ["expression"]
    assert "expression" in schema["properties"]
    assert calculator_tool.function_schema.function("6*7") == "42"


def test_build_tools_of_nothing_is_empty() -> None:
    assert build_tools([]) == []


def test_validating_tools_does_not_import_pydantic_ai() -> None:
    """Config loading validates tool names; it must not pay pydantic-ai's import time."""
    code = "import sys; import server.config, server.tools; sys.exit('pydantic_ai' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=60)
