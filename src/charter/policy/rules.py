"""Pure gate-rule machinery: a type-checked CEL environment over the facts schema, compilation with
error positions, evaluation and reason templates. No database, no web.

CEL (the expression language of Kubernetes admission policies) is evaluated by cel-expr-python, the
CEL project's binding of cel-cpp: expressions are parsed *and type-checked* against declared variable
types when a policy is saved, so a misspelt fact or a comparison of an int with a string is refused
then, with its line and column, never discovered at gate time. Nothing here uses Python eval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_strings

MAX_EXPRESSION = 4_000

# A facts namespace is either one variable of a CEL type (e.g. "map(string, dyn)") or a record of
# typed fields, each declared as the variable "<namespace>.<field>" so field names are type-checked.
Namespace = str | Mapping[str, str]
FactsSchema = Mapping[str, Namespace]

_SCALARS = {"bool", "int", "double", "string", "timestamp", "duration", "dyn"}
_ERROR_LINE = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*)")
_TEMPLATE_REF = re.compile(r"\{([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*)\}")


@dataclass(frozen=True)
class RuleProblem:
    """Why an expression does not compile, and where (1-based line and column in the expression)."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


class RuleDoesNotCompile(Exception):
    def __init__(self, problems: list[RuleProblem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


@dataclass(frozen=True)
class Outcome:
    """The result of one rule: passed, or failed with an evaluation error (a missing fact, a bad index)."""

    passed: bool
    error: str | None = None


def check_type_signature(sig: str) -> str:
    """Validate a facts type signature (bool, int, double, string, timestamp, duration, dyn, list(T),
    map(string, T)); returns it normalised. Raises ValueError otherwise."""
    text = sig.replace(" ", "")
    if text in _SCALARS:
        return text
    if text.startswith("list(") and text.endswith(")"):
        return f"list({check_type_signature(text[5:-1])})"
    if text.startswith("map(string,") and text.endswith(")"):
        return f"map(string, {check_type_signature(text[11:-1])})"
    raise ValueError(
        f"unknown fact type {sig!r}; use bool, int, double, string, timestamp, dyn, list(T), map(string, T)"
    )


_SCALAR_TYPES = {
    "bool": "BOOL",
    "int": "INT",
    "double": "DOUBLE",
    "string": "STRING",
    "timestamp": "TIMESTAMP",
    "duration": "DURATION",
    "dyn": "DYN",
}


def cel_type(sig: str) -> Any:
    """Build the CEL type of a normalised signature (structurally: cel.Type('map(...)') is not the same)."""
    if sig in _SCALAR_TYPES:
        return getattr(cel.Type, _SCALAR_TYPES[sig])
    if sig.startswith("list("):
        return cel.Type.List(cel_type(sig[5:-1]))
    return cel.Type.Map(cel.Type.STRING, cel_type(sig[len("map(string, ") : -1]))


def variables(schema: FactsSchema) -> dict[str, str]:
    """The CEL variables a schema declares, name -> type signature."""
    out: dict[str, str] = {}
    for ns, spec in schema.items():
        if isinstance(spec, str):
            out[ns] = check_type_signature(spec)
        else:
            for name, sig in spec.items():
                out[f"{ns}.{name}"] = check_type_signature(sig)
    return out


def parse_problems(text: str) -> list[RuleProblem]:
    """cel-cpp reports 'ERROR: <input>:LINE:COL: message' per problem; keep each with its position."""
    problems = [RuleProblem(int(m.group(1)), int(m.group(2)), m.group(3).strip()) for m in _ERROR_LINE.finditer(text)]
    return problems or [RuleProblem(1, 1, text.strip() or "the expression does not compile")]


def _coerce(sig: str, value: Any) -> Any:
    if value is None:
        return None
    if sig == "double" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if sig == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class CelEnvironment:
    """A CEL environment whose variables are the facts schema. Thread-safe for compile and evaluate."""

    schema: FactsSchema
    declared: dict[str, str] = field(init=False)
    programs: dict[Any, Any] = field(default_factory=dict, repr=False)  # cache for immutable rule sets
    _env: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.declared = variables(self.schema)
        self._env = cel.NewEnv(
            variables={name: cel_type(sig) for name, sig in self.declared.items()},
            extensions=[ext_strings.ExtStrings()],
        )

    def compile(self, expression: str) -> Any:
        """Parse and type-check; the result must be a boolean (or dyn, checked again at evaluation)."""
        if not expression.strip():
            raise RuleDoesNotCompile([RuleProblem(1, 1, "the expression is empty")])
        if len(expression) > MAX_EXPRESSION:
            raise RuleDoesNotCompile([RuleProblem(1, 1, f"the expression is longer than {MAX_EXPRESSION} characters")])
        try:
            program = self._env.compile(expression)
        except RuntimeError as exc:
            raise RuleDoesNotCompile(parse_problems(str(exc))) from None
        result = program.return_type()
        if result != cel.Type.BOOL and result != cel.Type.DYN:
            raise RuleDoesNotCompile(
                [RuleProblem(1, 1, f"a rule must be a boolean condition, this expression is of type {result.name()}")]
            )
        return program

    def activation(self, facts: Mapping[str, Any]) -> Any:
        """Bind a facts document; a fact the document lacks stays unbound (its rules fail, naming it)."""
        data: dict[str, Any] = {}
        for ns, spec in self.schema.items():
            value = facts.get(ns)
            if isinstance(spec, str):
                if value is not None:
                    data[ns] = _coerce(self.declared[ns], value)
            elif isinstance(value, Mapping):
                for name in spec:
                    if name in value and value[name] is not None:
                        data[f"{ns}.{name}"] = _coerce(self.declared[f"{ns}.{name}"], value[name])
        return self._env.Activation(data)


def evaluate(program: Any, activation: Any) -> Outcome:
    result = program.eval(activation)
    if result.type() == cel.Type.ERROR:
        return Outcome(False, _error_text(str(result.value())))
    value = result.value()
    if not isinstance(value, bool):
        return Outcome(False, f"the rule produced {value!r}, not true or false")
    return Outcome(value)


def _error_text(text: str) -> str:
    text = re.sub(r"^[A-Z_]+: ", "", text.strip())
    m = re.search(r"No value with name \"([^\"]+)\" found", text)
    if m:
        return f"the fact '{m.group(1)}' is missing from the facts document"
    m = re.search(r"Key not found in map\s*:\s*\"?([^\"]+)\"?", text)
    if m:
        return f"no entry '{m.group(1)}' in the facts (e.g. no such procedure run); guard it with 'in' or has()"
    return text


def lookup(facts: Mapping[str, Any], path: str) -> Any:
    node: Any = facts
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    return node


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value) if value else "none"
    return str(value)


def render(template: str, facts: Mapping[str, Any]) -> str:
    """Fill '{namespace.field}' references from the facts; lists are joined, absent values read 'none'."""
    return _TEMPLATE_REF.sub(lambda m: _text(lookup(facts, m.group(1))), template)


def template_references(template: str) -> list[str]:
    return _TEMPLATE_REF.findall(template)
