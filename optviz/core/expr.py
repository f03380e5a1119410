"""A safe formula language for surfaces and scheduler lambdas: a whitelisted AST compiled into closures.

The user's text is parsed with ``ast.parse`` and walked once; every allowed node becomes a small
closure over a math namespace ``m`` (see ``optviz.core.numeric``), so the same compiled formula runs on
floats, tensors and duals. Nothing from the text is ever executed as Python code. Number literals
are floats, constant parts are folded with IEEE floats (``9**9**9`` is ``inf`` at once), and float
evaluation never raises.
"""
from __future__ import annotations

import ast
import math
import operator
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from .numeric import FLOAT

MAX_EXPRESSION_LENGTH = 500
MAX_NODES = 300
MAX_DEPTH = 50
CONSTANTS = {"pi": math.pi, "e": math.e}
# accepted name -> (namespace attribute, number of arguments)
FUNCTIONS: dict[str, tuple[str, int]] = {
    **{n: (n, 1) for n in ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "sinh", "cosh",
                           "arctan", "arcsin", "arccos", "arcsinh", "log10", "log2", "sigmoid")},
    "atan": ("arctan", 1), "asin": ("arcsin", 1), "acos": ("arccos", 1), "asinh": ("arcsinh", 1),
    "min": ("minimum", 2), "max": ("maximum", 2), "minimum": ("minimum", 2), "maximum": ("maximum", 2),
}
_BINARY: dict[type, Callable] = {
    ast.Add: lambda a, b, m: a + b,
    ast.Sub: lambda a, b, m: a - b,
    ast.Mult: lambda a, b, m: a * b,
    ast.Div: lambda a, b, m: m.div(a, b),
    ast.Pow: lambda a, b, m: m.pow(a, b),
}
_OPERATOR_SYMBOLS = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
                     ast.BitOr: "|", ast.BitAnd: "&", ast.Invert: "~", ast.Not: "not"}
_FORBIDDEN_NODES = {
    ast.Lambda: "'lambda'", ast.IfExp: "'if ... else'", ast.ListComp: "a list comprehension",
    ast.SetComp: "a set comprehension", ast.DictComp: "a dict comprehension",
    ast.GeneratorExp: "a generator expression", ast.List: "a list [...]", ast.Tuple: "a tuple (a, b)",
    ast.Dict: "a dict {...}", ast.Set: "a set {...}", ast.JoinedStr: "an f-string",
    ast.NamedExpr: "':=' (assignment)", ast.Starred: "'*' unpacking", ast.Await: "'await'",
    ast.Yield: "'yield'", ast.YieldFrom: "'yield from'", ast.Slice: "a slice",
}
_FORBIDDEN_CHARACTERS = {
    "#": "comments ('#') are not allowed",
    ";": "';' is not allowed; enter a single formula",
    "\\": "backslashes are not allowed",
}


class ExpressionError(ValueError):
    """A formula that cannot be accepted; the message is one line meant for the user."""

    def __init__(self, message: str, col: int | None = None):
        super().__init__(message)
        self.col = col  # 1-based column of the offending part, when known


Node = Callable  # compiled node: (values, m) -> value; constants stay plain floats until the root


@dataclass(frozen=True)
class Expression:
    """A compiled formula in ``variables``; ``evaluate`` runs it on any math namespace."""

    text: str
    variables: tuple[str, ...]
    _root: Node = field(repr=False, compare=False)

    def evaluate(self, values: dict[str, object], m) -> object:
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise ExpressionError(f"no value given for {', '.join(missing)}")
        return self._root(values, m)

    def surface_fn(self) -> Callable:
        """``fn(x, y, m)`` for a formula in x and y."""
        if self.variables != ("x", "y"):
            raise ValueError(f"a surface needs the variables ('x', 'y'), this formula uses {self.variables}")
        root = self._root

        def fn(x, y, m):
            return root({"x": x, "y": y}, m)
        return fn

    def scalar(self, **values: float) -> float:
        """The value on Python floats (IEEE: inf/nan, never an exception), e.g. ``scalar(epoch=3)``."""
        unknown = sorted(set(values) - set(self.variables))
        if unknown:
            raise ExpressionError(f"unknown variable {', '.join(unknown)}; this formula uses {', '.join(self.variables)}")
        return float(self.evaluate({k: float(v) for k, v in values.items()}, FLOAT))


def compile_expression(text: str, variables: tuple[str, ...] = ("x", "y")) -> Expression:
    """Check ``text`` against the whitelist and compile it; raises ExpressionError with a one-line reason."""
    variables = tuple(variables)
    for v in variables:
        if not (isinstance(v, str) and v.isascii() and v.isidentifier()) or v in FUNCTIONS or v in CONSTANTS:
            raise ValueError(f"invalid variable name {v!r}")
    if not isinstance(text, str):
        raise ExpressionError(f"a formula must be text, got {type(text).__name__}")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"formula is too long ({len(text):,} characters; the limit is {MAX_EXPRESSION_LENGTH})")
    _check_characters(text)
    body = text.strip()
    if not body:
        raise ExpressionError(f"formula is empty; type one such as {_example(variables)}")
    lead = len(text) - len(text.lstrip())
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal" for 1if: the error below says it
            warnings.simplefilter("ignore")
            tree = ast.parse(body, mode="eval")
    except SyntaxError as e:
        if not e.offset:  # the parser ran off the end, e.g. "x +"
            raise ExpressionError("could not read the formula: something is missing at the end") from None
        col = lead + e.offset
        msg = str(e.msg).splitlines()[0] if e.msg else "invalid syntax"
        raise ExpressionError(f"could not read the formula: {msg}{_at(col)}", col) from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise ExpressionError("formula is nested too deeply") from None
    root = _Compiler(body, variables, lead).visit(tree.body, 0)
    return Expression(text, variables, root if callable(root) else _constant_node(root))


def _constant_node(c: float) -> Node:
    def node(values, m):
        return c
    return node


def _at(col: int | None) -> str:
    return f" (at column {col})" if col else ""


def _example(variables: tuple[str, ...]) -> str:
    return " + ".join(f"{v}**2" for v in variables) if variables else "2*pi"


def _check_characters(text: str) -> None:
    for i, ch in enumerate(text, start=1):
        if " " <= ch <= "~":
            if ch in _FORBIDDEN_CHARACTERS:
                        raise ExpressionError(f"{_FORBIDDEN_CHARACTERS[ch]}{_at(i)}", i)
        elif ch in "\n\r":
            raise ExpressionError(f"line breaks are not allowed{_at(i)}; write the formula on one line", i)
        else:
            shown = f"'{ch}' (U+{ord(ch):04X})" if ch.isprintable() else f"U+{ord(ch):04X}"
            raise ExpressionError(f"character {shown} is not allowed{_at(i)}; use plain ASCII letters, "
                                  "digits, + - * / ** and parentheses", i)


NODE_VISITS = {ast.Constant: "constant", ast.Name: "name", ast.BinOp: "binary", ast.UnaryOp: "unary", ast.Call: "call"}


def visit_node(compiler: Any, node: ast.AST, depth: int, visits: dict[type, str] = NODE_VISITS):
    """Hands ``node`` to the compiler's method for its kind as ``visits`` names it: constant(node) and name(node) for
    the leaves, method(node, depth) for the others; a node of any other kind goes to compiler.reject(node)."""
    for kind, method in visits.items():
        if isinstance(node, kind):
            handle = getattr(compiler, method)
            return handle(node) if kind in (ast.Constant, ast.Name) else handle(node, depth)
    return compiler.reject(node)


class _Compiler:
    """One walk over the tree: validates each node and returns a float (constant) or a closure."""

    def __init__(self, text: str, variables: tuple[str, ...], lead: int):
        self.text, self.variables, self.lead, self.nodes = text, variables, lead, 0

    def col(self, node: ast.AST) -> int:
        return self.lead + node.col_offset + 1

    def fail(self, message: str, col: int | None, hint: str = "") -> None:
        raise ExpressionError(f"{message}{_at(col)}{hint}", col)

    def allowed(self) -> str:
        names = ", ".join(self.variables + tuple(CONSTANTS))
        return f"use {names} or a function such as sin, exp, sqrt"

    def visit(self, node: ast.AST, depth: int):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.fail(f"formula is too long: more than {MAX_NODES} parts", None)
        if depth > MAX_DEPTH:
            self.fail(f"formula is nested more than {MAX_DEPTH} levels deep", self.col(node))
        return visit_node(self, node, depth)

    def constant(self, node: ast.Constant):
        v = node.value
        if type(v) in (int, float):
            try:
                return float(v)
            except OverflowError:
                return math.inf
        if isinstance(v, bool):
            self.fail("True and False are not numbers here", self.col(node))
        if isinstance(v, complex):
            self.fail("complex numbers such as 1j are not allowed", self.col(node))
        if isinstance(v, (str, bytes)):
            self.fail("text in quotes is not allowed", self.col(node),
                      f"; write a formula such as {_example(self.variables)}")
        return self.reject(node, f"'{v!r}'")

    def name(self, node: ast.Name):
        if node.id in self.variables:
            key = node.id
            return lambda values, m: values[key]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in FUNCTIONS:
            self.fail(f"'{node.id}' is a function", self.col(node), f"; call it with parentheses, e.g. {node.id}(x)")
        self.fail(f"name '{node.id}' is not allowed", self.col(node), f"; {self.allowed()}")

    def binary(self, node: ast.BinOp, depth: int):
        op = _BINARY.get(type(node.op))
        if op is None:
            seg = self.text[node.left.end_col_offset:node.right.col_offset]
            col = self.lead + node.left.end_col_offset + len(seg) - len(seg.lstrip(" )")) + 1
            if isinstance(node.op, ast.BitXor):
                self.fail("'^' is not a power here", col, "; use ** for powers, e.g. x**2")
            sym = _OPERATOR_SYMBOLS.get(type(node.op), "?")
            self.fail(f"operator '{sym}' is not allowed", col, "; use + - * / or ** for powers")
        # a long sum a + b + c + ... nests on the left; count it as one level, like the reader does
        left, right = self.visit(node.left, depth), self.visit(node.right, depth + 1)
        lc, rc = callable(left), callable(right)
        if lc and rc:
            return lambda values, m: op(left(values, m), right(values, m), m)
        if lc:
            return lambda values, m: op(left(values, m), right, m)
        if rc:
            return lambda values, m: op(left, right(values, m), m)
        return op(left, right, FLOAT)

    def unary(self, node: ast.UnaryOp, depth: int):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            sym = _OPERATOR_SYMBOLS.get(type(node.op), "?")
            self.fail(f"operator '{sym}' is not allowed", self.col(node), "; use + - * / or ** for powers")
        operand = self.visit(node.operand, depth + 1)
        if isinstance(node.op, ast.UAdd):
            return operand
        if callable(operand):
            return lambda values, m: -operand(values, m)
        return -operand

    def call(self, node: ast.Call, depth: int):
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, ast.Attribute):
                return self.reject(func)
            self.fail("only functions by name can be called, e.g. sin(x)", self.col(node))
        name = func.id
        if name not in FUNCTIONS:
            if name in self.variables or name in CONSTANTS:
                self.fail(f"'{name}' is not a function", self.col(node), f"; write {name}*(...) to multiply")
            self.fail(f"name '{name}' is not allowed", self.col(node), f"; {self.allowed()}")
        attr, arity = FUNCTIONS[name]
        if node.keywords:
            self.fail(f"keyword arguments are not allowed in {name}(...)", self.col(node))
        for a in node.args:
            if isinstance(a, ast.Starred):
                self.fail("'*' unpacking is not allowed", self.col(a))
        if len(node.args) != arity:
            plural = "argument" if arity == 1 else "arguments"
            self.fail(f"{name}() takes {arity} {plural}, got {len(node.args)}", self.col(node))
        args = [self.visit(a, depth + 1) for a in node.args]
        if not any(callable(a) for a in args):
            return getattr(FLOAT, attr)(*args)
        get = operator.attrgetter(attr)
        if arity == 1:
            (arg,) = args
            return lambda values, m: get(m)(arg(values, m))
        a, b = (x if callable(x) else (lambda values, m, c=x: c) for x in args)
        return lambda values, m: get(m)(a(values, m), b(values, m))

    def reject(self, node: ast.AST, what: str | None = None):
        if isinstance(node, ast.Attribute):
            col = self.lead + node.end_col_offset - len(node.attr) + 1
            self.fail(f"attribute access is not allowed: '{node.attr}'", col)
        if isinstance(node, ast.Subscript):
            self.fail("indexing with [...] is not allowed", self.col(node))
        if isinstance(node, ast.Compare):
            self.fail("comparisons such as < or == are not allowed", self.col(node))
        if isinstance(node, ast.BoolOp):
            self.fail("'and' / 'or' are not allowed", self.col(node))
        what = what or _FORBIDDEN_NODES.get(type(node), f"'{type(node).__name__}'")
        names = ", ".join(self.variables)
        col = self.col(node) if hasattr(node, "col_offset") else None
        self.fail(f"only numbers, {names}, + - * / **, parentheses and functions like sin(x) are allowed; "
                  f"{what} is not", col)
