"""The Custom optimizer: a learner's own step(), written in a small safe language and run by a real torch.optim.Optimizer.

A program is one assignment per line, evaluated per coordinate in float64::

    momentum_buffer = g if t == 1 else momentum * momentum_buffer + (1 - dampening) * g
    p = p - lr * momentum_buffer

``p`` is the parameter, ``g`` its gradient and ``t`` the step (from 1); ``lr`` and every other hyperparameter are numbers
read from the parameter group at each step, so per-group options and lr schedulers apply. Any other assigned name is a
state variable: it starts at 0, keeps its value from step to step, and is kept in ``optimizer.state[param]`` under its
name. The last assignment to ``p`` is the update. Expressions hold numbers, ``+ - * / **``, unary minus, comparisons
(as the condition of ``a if cond else b``) and the functions ``sqrt abs sign exp log min max``.

The text is parsed with ``ast.parse`` and every node is checked against that whitelist and compiled once into closures
over torch tensors (parts that read only ``t`` and hyperparameters stay Python floats, with IEEE results and no
exceptions). Nothing of the text is ever executed as Python code. A bad program raises ProgramError, whose message
names the line and column. ``a ± s * b`` (a, b tensors, s a number) is computed as ``torch.add(a, b, alpha=±s)`` and
``a ± x * y`` (all tensors) as ``torch.addcmul(a, x, y, value=±1)``: one rounding for the product after the sign and the
sum, as torch's own optimizers compute ``buf.mul_(momentum).add_(g, alpha=1 - dampening)`` or ``addcmul_``, so a program
written the way torch writes its update gives torch's numbers bit for bit.
"""
from __future__ import annotations

import ast
import difflib
import functools
import keyword
import math
import operator
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import torch

from .expr import NODE_VISITS, visit_node
from .numeric import FLOAT
from .specs import ConfigError, Param

CUSTOM = "Custom"
MAX_LINES = 20
MAX_PROGRAM_LENGTH = 2000
MAX_NODES = 600
MAX_DEPTH = 40          # levels as a reader counts them: a sum a + b + c is one level
MAX_TREE_DEPTH = 100    # operations inside one another as Python's tree holds them (a sum of n terms is n - 1)
MAX_HYPERPARAMETERS = 16
MAX_NAME_LENGTH = 40
EXAMPLE = "p = p - lr * g"
INPUTS = {"p": "the parameter", "g": "the gradient", "t": "the step number"}
FUNCTIONS = {"sqrt": 1, "abs": 1, "sign": 1, "exp": 1, "log": 1, "min": 2, "max": 2}
# names the optimizer itself uses (torch's group and state keys, the generated step()'s own variables)
RESERVED = frozenset({"step", "params", "param", "state", "group", "self", "closure", "loss", "torch", "math"})
LR = Param("lr", "float", 1e-2, "Learning rate: your program reads it as lr (the scheduler changes it).", 1e-6, 10.0, log=True)

SCALAR, TENSOR, CONDITION, TENSOR_CONDITION = "scalar", "tensor", "condition", "tensor condition"
_PARAM = "@param"   # the parameter itself in the evaluation's environment (not a name a program can write)


class ProgramError(ValueError):
    """A program that cannot run; ``str()`` is one line naming the line and column."""

    def __init__(self, message: str, line: int, col: int):
        super().__init__(f"line {line}, column {col}: {message}")
        self.message, self.line, self.col = message, line, col


# -- compiled program ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One assignment: the name, its compiled right-hand side (env -> value), whether the value is a tensor, and the
    right-hand side as Python for the generated step()."""

    name: str
    fn: Callable
    tensor: bool
    code: str
    lineno: int
    source: str     # the line as written (shown next to the code when they differ)


@dataclass(frozen=True)
class Program:
    """A checked, compiled program for the given hyperparameter names."""

    text: str
    hyperparameters: tuple[str, ...]   # the names it may read from the group (lr first)
    reads: tuple[str, ...]             # the hyperparameters it does read, in order of first use
    state: tuple[str, ...]             # its state variables, in order of first assignment
    carried: tuple[str, ...]           # state variables read before they are assigned (last step's values)
    lines: tuple[Line, ...]
    final_tensor: dict                 # name -> the last value assigned to it is a tensor
    # it divides, raises to a power or calls a function with numbers alone (lr / (1 - beta1 ** t)): step() then holds
    # the numbers as 0-d float64 tensors, so that 1 / 0 is inf and sqrt(-1) nan, as here, not a ZeroDivisionError
    scalar_math: bool = False

    def apply(self, param: torch.Tensor, state: dict, group: dict) -> None:
        """One step of one parameter: what the generated ``step()`` does, line by line (see ``step_code``)."""
        if not state:  # the first step: every state variable starts at 0
            state["step"] = 0
            for name in self.state:
                state[name] = torch.zeros_like(param, memory_format=torch.preserve_format)
        state["step"] += 1
        env: dict[str, Any] = {name: float(group[name]) for name in self.reads}
        # copies: nothing below changes the parameter or its .grad in place until the update
        env["p"], env["g"], env["t"], env[_PARAM] = param.clone(), param.grad.clone(), float(state["step"]), param
        for name in self.carried:
            env[name] = state[name]
        for line in self.lines:
            env[line.name] = line.fn(env)
        for name in self.state:
            state[name] = env[name] if self.final_tensor[name] else torch.full_like(param, env[name])
        if self.final_tensor["p"]:
            param.copy_(env["p"])
        else:
            param.fill_(env["p"])

    def step_code(self, indent: str = "") -> list[str]:
        """The body of the loop over a group's parameters in the generated ``step()`` (the same operations as apply)."""
        out = ["if param.grad is None:", "    continue", "state = self.state[param]",
               "if not state:  # the first step: every state variable starts at 0", '    state["step"] = 0']
        out += [f'    state["{n}"] = torch.zeros_like(param)' for n in self.state]
        step = _number('state["step"]', True) if self.scalar_math else 'float(state["step"])'
        out += ['state["step"] += 1', "# copies: nothing below changes param or param.grad in place until the update",
                f"p, g, t = param.clone(), param.grad.clone(), {step}"]
        if self.carried:
            loads = ", ".join(f'state["{n}"]' for n in self.carried)
            out.append(f"{', '.join(self.carried)} = {loads}  # the values the last step left")
        for line in self.lines:
            code = f"{line.name} = {line.code}"
            if " ".join(code.split()) != " ".join(line.source.split()):
                out.append(f"# {line.source}")
            out.append(code)
        out += [f'state["{n}"] = {n if self.final_tensor[n] else f"torch.full_like(param, {n})"}' for n in self.state]
        out.append("param.copy_(p)" if self.final_tensor["p"] else "param.fill_(p)")
        return [indent + s for s in out]


# -- the optimizer ------------------------------------------------------------------------------------------------

class CustomOptimizer(torch.optim.Optimizer):
    """A torch.optim.Optimizer whose step() is a program (see the module's docstring).

    ``CustomOptimizer(params, program, lr=0.01, **hyperparameters)``: every hyperparameter is a number, may differ per
    parameter group, and is read by the program under its name; ``optimizer.state[param]`` holds ``step`` and the
    program's state variables.
    """

    def __init__(self, params, program: str, lr: float = LR.default, **hyperparameters: float):
        defaults = {"lr": lr, **hyperparameters}
        for name, value in defaults.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"hyperparameter {name} must be a number, got {type(value).__name__}")
        if not lr >= 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        self.program = compile_program(program, tuple(defaults))
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self.program.apply(param, self.state[param], group)
        return loss


def class_code(program: str, options: dict, name: str = "CustomOptimizer") -> str:
    """The program as a readable torch.optim.Optimizer subclass with one ``step`` method (the same arithmetic as
    CustomOptimizer); ``options`` are the hyperparameters' defaults. Needs ``import math`` and ``import torch``."""
    prog = compile_program(program, tuple(options))
    shown = "\n".join("        " + ln.rstrip() if ln.strip() else "" for ln in program.replace('"', "'").strip("\n").splitlines())
    reads = ", ".join(prog.reads)
    args = ", ".join(f"{k}={_literal(float(v))}" for k, v in options.items())
    body = [
        f"class {name}(torch.optim.Optimizer):",
        '    """Your step(), per coordinate:',
        "",
        shown,
        "",
        "    p is the parameter, g its gradient, t the step (from 1); the hyperparameters come from each parameter group,",
        "    so per-group options and lr schedulers apply. Every other name is state: it starts at 0 and is kept in",
        '    optimizer.state[param] under its name."""',
        "",
        f"    def __init__(self, params, {args}):",
        f"        super().__init__(params, dict({', '.join(f'{k}={k}' for k in options)}))",
        "",
        "    @torch.no_grad()",
        "    def step(self, closure=None):",
        "        loss = None",
        "        if closure is not None:",
        "            with torch.enable_grad():",
        "                loss = closure()",
        "        for group in self.param_groups:",
    ]
    if prog.reads and prog.scalar_math:
        body.append("            # the numbers as 0-d float64 tensors, so 1 / 0 is inf and sqrt(-1) nan (as in torch), not an error")
        keys = ", ".join(f'"{k}"' for k in prog.reads)
        body.append(f"            {reads} = {_number('group[' + keys + ']', True)}" if len(prog.reads) == 1 else
                    f"            {reads} = ({_number('group[k]', True)} for k in ({keys}))")
    elif prog.reads:
        values = ", ".join(f'group["{k}"]' for k in prog.reads)
        body.append(f"            {reads} = {values}")
    body.append('            for param in group["params"]:')
    body += prog.step_code(" " * 16)
    body.append("        return loss")
    return "\n".join(body) + "\n"


def _number(code: str, tensor: bool) -> str:
    return f"torch.tensor({code}, dtype=torch.float64)" if tensor else code


def _literal(v: float) -> str:
    if not math.isfinite(v):
        return "math.nan" if v != v else ("math.inf" if v > 0 else "-math.inf")
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


# -- config support -----------------------------------------------------------------------------------------------

def language() -> dict:
    """The language in brief, as plain data (the catalogue's entry for Custom: ``python -m optviz list``)."""
    example = ("momentum_buffer = g if t == 1 else momentum * momentum_buffer + (1 - dampening) * g\n"
               "p = p - lr * momentum_buffer\n")
    return {
        "summary": "one assignment per line, 'name = expression', evaluated per coordinate in float64; the last "
                   "assignment to p is the update",
        "reads": {**INPUTS, "lr and every other name in options": "the hyperparameters: numbers, read from each "
                  "parameter group at every step (per-group options and lr schedulers apply)"},
        "state": "any other name a program assigns: it starts at 0, keeps its value from step to step and is kept in "
                 "optimizer.state[param] under its name",
        "operators": ["+", "-", "*", "/", "**", "unary -", "< <= > >= == != (the condition of 'a if condition else b')"],
        "functions": {name: f"{arity} argument{'s' * (arity > 1)}" for name, arity in FUNCTIONS.items()},
        "limits": {"lines": MAX_LINES, "characters": MAX_PROGRAM_LENGTH, "parts": MAX_NODES, "nesting": MAX_DEPTH,
                   "operations one inside another": MAX_TREE_DEPTH, "hyperparameters": MAX_HYPERPARAMETERS,
                   "name length": MAX_NAME_LENGTH},
        "reserved names": sorted(RESERVED),
        "example": {"name": CUSTOM, "program": example, "options": {"lr": 0.001, "momentum": 0.9, "dampening": 0.0}},
    }


def hyperparameter_params(options: Any) -> tuple[Param, ...]:
    """The Custom optimizer's hyperparameters as specs (lr and every name its options give), checking the names."""
    names = list(options) if isinstance(options, dict) else []
    if len(names) > MAX_HYPERPARAMETERS:
        raise ConfigError("optimizer.options", f"at most {MAX_HYPERPARAMETERS} hyperparameters, got {len(names)}")
    for name in names:
        problem = name_problem(name)
        if problem:
            raise ConfigError(f"optimizer.options.{name}", f"cannot be a hyperparameter's name: {problem}")
    return (LR, *(Param(n, "float", 0.0, "A number your program reads under this name.") for n in names if n != "lr"))


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name a hyperparameter or a state variable (None if it can)."""
    if not isinstance(name, str) or not (name.isascii() and name.isidentifier()):
        return "a name is letters, digits and _, starting with a letter"
    if len(name) > MAX_NAME_LENGTH:
        return f"names are at most {MAX_NAME_LENGTH} characters"
    if name.startswith("_"):
        return "names starting with '_' are not allowed"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"'{name}' is a Python keyword"
    if name in INPUTS:
        return f"'{name}' is {INPUTS[name]}"
    if name in FUNCTIONS:
        return f"'{name}' is a function"
    if name in RESERVED:
        return f"'{name}' is used by the optimizer itself"
    return None


def parse_program(optimizer: str, text: Any, options: dict) -> str | None:
    """The ``optimizer.program`` field of a config: required by Custom (and compiled, so an error names its line and
    column), refused by torch's own optimizers."""
    if optimizer != CUSTOM:
        if text is not None:
            raise ConfigError("optimizer.program", f"{optimizer} is torch's own optimizer; only {CUSTOM} takes a program")
        return None
    if text is None:
        raise ConfigError("optimizer.program", f"the {CUSTOM} optimizer needs a program, e.g. {EXAMPLE!r}")
    if not isinstance(text, str):
        raise ConfigError("optimizer.program", f"expected the program as text, got {type(text).__name__}")
    try:
        compile_program(text, tuple(options))
    except ProgramError as e:
        raise ConfigError("optimizer.program", str(e)) from None
    return text


# -- the compiler -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Part:
    """A compiled expression: its kind, its Python code (for step()) and either a closure or a constant value."""

    kind: str
    code: ast.expr
    fn: Callable | None = None
    value: float = 0.0

    @property
    def const(self) -> bool:
        return self.fn is None

    def call(self) -> Callable:
        if self.fn is not None:
            return self.fn
        v = self.value
        return lambda env: v


_STATEMENTS = {
    ast.Expr: "an expression without 'name ='", ast.AugAssign: "an update such as 'x += 1' (write x = x + 1)",
    ast.AnnAssign: "an annotated assignment", ast.If: "an 'if' statement (write 'a if condition else b')",
    ast.For: "a loop", ast.While: "a loop", ast.FunctionDef: "a function definition",
    ast.AsyncFunctionDef: "a function definition", ast.ClassDef: "a class definition", ast.Import: "an import",
    ast.ImportFrom: "an import", ast.Return: "'return'", ast.Delete: "'del'", ast.Pass: "'pass'",
    ast.Global: "'global'", ast.Nonlocal: "'nonlocal'", ast.With: "'with'", ast.Try: "'try'", ast.Raise: "'raise'",
    ast.Assert: "'assert'", ast.Break: "'break'", ast.Continue: "'continue'", ast.Match: "'match'",
}
_EXPRESSIONS = {
    ast.Lambda: "'lambda'", ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression", ast.List: "a list [...]",
    ast.Tuple: "a tuple (a, b)", ast.Dict: "a dict {...}", ast.Set: "a set {...}", ast.JoinedStr: "an f-string",
    ast.NamedExpr: "':=' (assignment)", ast.Starred: "'*' unpacking", ast.Await: "'await'", ast.Yield: "'yield'",
    ast.YieldFrom: "'yield from'", ast.Slice: "a slice", ast.Subscript: "indexing with [...]",
    ast.BoolOp: "'and' / 'or' (nest 'a if c1 else (b if c2 else c)' instead)",
}
_OPERATORS = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
              ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.Invert: "~", ast.Not: "not"}
_LEVEL = {ast.Add: "sum", ast.Sub: "sum", ast.Mult: "product", ast.Div: "product"}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}
_TORCH_FUNCTIONS = {"sqrt": torch.sqrt, "abs": torch.abs, "sign": torch.sign, "exp": torch.exp, "log": torch.log}
_FLOAT_FUNCTIONS = {"sqrt": FLOAT.sqrt, "abs": FLOAT.abs, "sign": FLOAT.sign, "exp": FLOAT.exp, "log": FLOAT.log}
_VISITS = NODE_VISITS | {ast.Compare: "compare", ast.IfExp: "choice"}


@functools.lru_cache(maxsize=256)
def compile_program(text: str, hyperparameters: tuple[str, ...] = ("lr",)) -> Program:
    """Check ``text`` against the language and compile it; raises ProgramError naming the line and column."""
    if not isinstance(text, str):
        raise ProgramError(f"a program must be text, got {type(text).__name__}", 1, 1)
    if len(text) > MAX_PROGRAM_LENGTH:
        line = text.count("\n", 0, MAX_PROGRAM_LENGTH) + 1
        col = MAX_PROGRAM_LENGTH - (text.rfind("\n", 0, MAX_PROGRAM_LENGTH) + 1) + 1
        raise ProgramError(f"the program is too long ({len(text):,} characters; the limit is {MAX_PROGRAM_LENGTH:,})", line, col)
    for name in hyperparameters:
        if name != "lr" and name_problem(name):
            raise ValueError(f"invalid hyperparameter name {name!r}: {name_problem(name)}")
    text = text.replace("\r\n", "\n")
    _check_characters(text)
    numbered = [i for i, ln in enumerate(text.split("\n"), start=1) if ln.strip()]
    if len(numbered) > MAX_LINES:
        raise ProgramError(f"the program has {len(numbered)} lines; the limit is {MAX_LINES}", numbered[MAX_LINES], 1)
    if not numbered or all(text.split("\n")[i - 1].lstrip().startswith("#") for i in numbered):
        raise ProgramError(f"the program is empty; write one assignment per line, e.g. {EXAMPLE}", 1, 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="exec")
    except SyntaxError as e:
        msg = str(e.msg).splitlines()[0] if e.msg else "invalid syntax"
        line, col = e.lineno or len(numbered), e.offset or 1
        if isinstance(e, IndentationError) and line <= len(text.split("\n")):  # point at the line's first character
            source = text.split("\n")[line - 1]
            col = len(source) - len(source.lstrip()) + 1
        raise ProgramError(f"cannot read this line: {msg}", line, col) from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise ProgramError("the program is nested too deeply", 1, 1) from None
    try:
        return _Compiler(tuple(hyperparameters), text.split("\n")).program(text, tree)
    except RecursionError:  # not reached within the limits above; a clear message all the same
        raise ProgramError("the program is nested too deeply", 1, 1) from None


def _check_characters(text: str) -> None:
    for lineno, line in enumerate(text.split("\n"), start=1):
        for col, ch in enumerate(line, start=1):
            if " " <= ch <= "~" or ch == "\t":
                continue
            shown = f"'{ch}' (U+{ord(ch):04X})" if ch.isprintable() else f"U+{ord(ch):04X}"
            raise ProgramError(f"character {shown} is not allowed; use plain ASCII letters, digits, + - * / ** and "
                               "parentheses", lineno, col)


class _Compiler:
    """One walk over the tree: checks every node and builds closures and the code of step() with static kinds."""

    def __init__(self, hyperparameters: tuple[str, ...], source: list[str]):
        self.hyper, self.source = hyperparameters, source
        self.nodes = 0
        self.kinds: dict[str, str] = {}
        self.reads: list[str] = []
        self.scalar_math = False

    # -- statements ---------------------------------------------------------------------------------------------
    def program(self, text: str, tree: ast.Module) -> Program:
        targets = [self.target(stmt) for stmt in tree.body]
        for before, stmt in zip(tree.body, tree.body[1:]):
            if stmt.lineno == before.end_lineno:
                self.fail("one assignment per line: ';' starts a second one", stmt)
        state = list(dict.fromkeys(n for n in targets if n != "p"))
        self.kinds = {"p": TENSOR, "g": TENSOR, "t": SCALAR, **{h: SCALAR for h in self.hyper}, **{s: TENSOR for s in state}}
        assigned: set[str] = set()
        carried: list[str] = []
        lines = []
        for stmt, name in zip(tree.body, targets):
            self.loading = [n for n in state if n not in assigned]
            self.used: list[str] = []
            if _too_deep(stmt.value):
                self.fail(f"this expression has more than {MAX_TREE_DEPTH} operations one inside another (a sum of n "
                          "terms has n - 1); split it over two lines, e.g. s = a + b, then p = p - lr * s", stmt.value)
            part = self.visit(stmt.value, 0)
            if part.kind in (CONDITION, TENSOR_CONDITION):
                self.fail("a comparison is a condition: use it as 'a if condition else b'", stmt.value)
            carried += [n for n in self.used if n in self.loading and n not in carried]
            self.kinds[name] = part.kind
            assigned.add(name)
            written = self.source[stmt.lineno - 1][stmt.col_offset:stmt.end_col_offset].strip()
            lines.append(Line(name, part.call(), part.kind == TENSOR, ast.unparse(part.code), stmt.lineno, written))
        if "p" not in assigned:
            last = max(s.end_lineno or s.lineno for s in tree.body) if tree.body else 0
            raise ProgramError(f"the program never updates p; its last assignment to p is the step, e.g. {EXAMPLE}", last + 1, 1)
        final = {n: self.kinds[n] == TENSOR for n in (*state, "p")}
        reads = tuple(h for h in self.hyper if h in self.reads)
        return Program(text, self.hyper, reads, tuple(state), tuple(carried), tuple(lines), final, self.scalar_math)

    def target(self, stmt: ast.stmt) -> str:
        if not isinstance(stmt, ast.Assign):
            what = _STATEMENTS.get(type(stmt), f"'{type(stmt).__name__}'")
            self.fail(f"each line is one assignment 'name = expression'; this is {what}", stmt)
        if (stmt.end_lineno or stmt.lineno) != stmt.lineno:
            self.fail(f"one assignment per line: this one goes on to line {stmt.end_lineno}", stmt)
        if len(stmt.targets) != 1:
            self.fail("assign one name per line ('a = b = c' is not allowed)", stmt.targets[1])
        target = stmt.targets[0]
        if not isinstance(target, ast.Name):
            if isinstance(target, ast.Attribute):
                self.fail(f"attribute access is not allowed: '.{target.attr}'", target)
            self.fail("the left side must be one name, e.g. p = p - lr * g", target)
        name = target.id
        if name == "p":
            return name
        if name in ("g", "t"):
            self.fail(f"'{name}' is {INPUTS[name]}: it is read-only; assign to p or to a state variable", target)
        if name in self.hyper:
            self.fail(f"'{name}' is a hyperparameter: it is read-only here (its value comes from the options, per "
                      "parameter group)", target)
        problem = name_problem(name)
        if problem:
            self.fail(f"cannot assign to '{name}': {problem}", target)
        return name

    # -- expressions --------------------------------------------------------------------------------------------
    def fail(self, message: str, node: ast.AST) -> None:
        raise ProgramError(message, getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1)

    def count(self, node: ast.AST, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.fail(f"the program is too long: more than {MAX_NODES} parts", node)
        if depth > MAX_DEPTH:
            self.fail(f"the expression is nested more than {MAX_DEPTH} levels deep", node)

    def visit(self, node: ast.AST, depth: int) -> _Part:
        self.count(node, depth)
        return visit_node(self, node, depth, _VISITS)

    def reject(self, node: ast.AST) -> None:
        if isinstance(node, ast.Attribute):
            raise ProgramError(f"attribute access is not allowed: '.{node.attr}'", node.lineno,
                               (node.end_col_offset or 0) - len(node.attr))
        what = _EXPRESSIONS.get(type(node), f"'{type(node).__name__}'")
        self.fail(f"only numbers, names, + - * / **, comparisons, 'a if condition else b' and sqrt abs sign exp log min "
                  f"max are allowed; {what} is not", node)

    def constant(self, node: ast.Constant) -> _Part:
        v = node.value
        if isinstance(v, bool) or v is None:
            self.fail(f"{v} is not a number here", node)
        if isinstance(v, (str, bytes)):
            self.fail("text in quotes is not allowed", node)
        if isinstance(v, complex):
            self.fail("complex numbers such as 1j are not allowed", node)
        if not isinstance(v, (int, float)):
            self.fail(f"{v!r} is not allowed", node)
        try:
            value = float(v)
        except OverflowError:
            value = math.inf
        return self.const(value)

    def const(self, value: float) -> _Part:
        if value != value:
            code: ast.expr = ast.Attribute(ast.Name("math"), "nan")
        elif math.isinf(value):
            code = ast.Attribute(ast.Name("math"), "inf")
        else:
            whole = abs(value).is_integer() and 0 < abs(value) < 1e15
            code = ast.Constant(int(abs(value)) if whole or value == 0 and math.copysign(1.0, value) > 0 else abs(value))
        if value < 0 or (value == 0 and math.copysign(1.0, value) < 0):
            code = ast.UnaryOp(ast.USub(), code)
        return _Part(SCALAR, code, None, value)

    def name(self, node: ast.Name) -> _Part:
        n = node.id
        if n not in self.kinds:
            if n in FUNCTIONS:
                self.fail(f"'{n}' is a function: call it with parentheses, e.g. {n}(g)" if FUNCTIONS[n] == 1
                          else f"'{n}' is a function: call it with two arguments, e.g. {n}(g, 1)", node)
            problem = name_problem(n) if n.startswith("_") or n in RESERVED else None
            if problem:
                self.fail(f"unknown name '{n}': {problem}", node)
            known = list(self.kinds)
            close = difflib.get_close_matches(n, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            self.fail(f"unknown name '{n}'; {hint}a program reads p, g, t, its hyperparameters "
                      f"({', '.join(self.hyper)}; give a new one a value with the others) and the names it assigns", node)
        if n in self.hyper and n not in self.reads:
            self.reads.append(n)
        self.used.append(n)
        return _Part(self.kinds[n], ast.Name(n), lambda env: env[n])

    def binary(self, node: ast.BinOp, depth: int) -> _Part:
        kind = type(node.op)
        if kind not in (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow):
            sym = _OPERATORS.get(kind, "?")
            hint = "; use ** for powers, e.g. g**2" if kind is ast.BitXor else "; use + - * / or **"
            line = self.source[node.lineno - 1] if node.lineno <= len(self.source) else ""
            end = node.left.end_col_offset or 0
            seg = line[end:node.right.col_offset]
            raise ProgramError(f"operator '{sym}' is not allowed{hint}", node.lineno, end + len(seg) - len(seg.lstrip(" )")) + 1)
        if kind is ast.Pow:
            return self.combine(node.op, self.numeric(node.left, depth), self.numeric(node.right, depth + 1))
        # a long sum a + b - c ... (or product a * b / c ...) nests on the left: walk it in a loop, not by recursion (a
        # 300-term sum is 300 levels of the tree), and count it as one level, as a reader does
        chain = [node]
        while isinstance(chain[-1].left, ast.BinOp) and _LEVEL.get(type(chain[-1].left.op)) == _LEVEL[kind]:
            chain.append(chain[-1].left)
            self.count(chain[-1], depth)
        part = self.numeric(chain[-1].left, depth)
        for link in reversed(chain):
            if isinstance(link.op, (ast.Add, ast.Sub)):  # a product after + or - is fused with the sum, as torch's add_(b, alpha=s)
                b, bf = self.product(link.right, depth + 1)
                if part.kind == TENSOR and _fusable(bf):
                    part = _fused(part, bf, isinstance(link.op, ast.Sub))
                    continue
            else:
                b = self.numeric(link.right, depth + 1)
            part = self.combine(link.op, part, b)
        return part

    def product(self, node: ast.AST, depth: int) -> tuple[_Part, tuple[_Part, _Part] | None]:
        """A term of a sum, with its two factors when it is a product (for _fused)."""
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
            return self.numeric(node, depth), None
        self.count(node, depth)
        a, b = self.numeric(node.left, depth), self.numeric(node.right, depth + 1)
        return self.combine(node.op, a, b), (a, b)

    def combine(self, op_node: ast.operator, a: _Part, b: _Part) -> _Part:
        kind = type(op_node)
        tensor = TENSOR in (a.kind, b.kind)
        if kind is ast.Div:
            op = operator.truediv if tensor else FLOAT.div
        elif kind is ast.Pow:
            op = torch.pow if tensor else FLOAT.pow
        else:
            op = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}[kind]
        code = ast.BinOp(a.code, op_node, b.code)
        if a.const and b.const:
            return self.const(op(a.value, b.value))
        self.scalar_math |= not tensor and kind in (ast.Div, ast.Pow)   # the operations Python may raise for
        return _Part(TENSOR if tensor else SCALAR, code, _apply2(op, a, b))

    def unary(self, node: ast.UnaryOp, depth: int) -> _Part:
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            self.fail(f"operator '{_OPERATORS.get(type(node.op), '?')}' is not allowed; use + - * / or **", node)
        a = self.numeric(node.operand, depth + 1)
        if isinstance(node.op, ast.UAdd):
            return a
        if a.const:
            return self.const(-a.value)
        f = a.fn
        return _Part(a.kind, ast.UnaryOp(ast.USub(), a.code), lambda env: -f(env))

    def compare(self, node: ast.Compare, depth: int) -> _Part:
        parts = [self.numeric(node.left, depth + 1)] + [self.numeric(c, depth + 1) for c in node.comparators]
        ops = [_COMPARE[type(o)] if type(o) in _COMPARE else self.fail("only < <= > >= == != compare numbers", node)
               for o in node.ops]
        tensor = any(p.kind == TENSOR for p in parts)
        fns = [p.call() for p in parts]
        pairs = list(zip(ops, fns, fns[1:]))
        if tensor:
            codes = [ast.Compare(x.code, [o], [y.code]) for o, x, y in zip(node.ops, parts, parts[1:])]
            code = functools.reduce(lambda x, y: ast.BinOp(x, ast.BitAnd(), y), codes)
            if len(pairs) == 1:
                (op, fa, fb), = pairs
                return _Part(TENSOR_CONDITION, code, lambda env: op(fa(env), fb(env)))
            return _Part(TENSOR_CONDITION, code, lambda env: functools.reduce(
                operator.and_, [_as_tensor(op(fa(env), fb(env))) for op, fa, fb in pairs]))
        code = ast.Compare(parts[0].code, node.ops, [p.code for p in parts[1:]])
        return _Part(CONDITION, code, lambda env: all(op(fa(env), fb(env)) for op, fa, fb in pairs))

    def choice(self, node: ast.IfExp, depth: int) -> _Part:
        cond = self.visit(node.test, depth + 1)
        if cond.kind not in (CONDITION, TENSOR_CONDITION):
            self.fail("the condition of 'a if condition else b' must be a comparison, e.g. t == 1", node.test)
        a, b = self.numeric(node.body, depth + 1), self.numeric(node.orelse, depth + 1)
        c = cond.call()
        if cond.kind == TENSOR_CONDITION:  # per coordinate: both sides are computed, each coordinate takes one
            if a.kind == SCALAR and b.kind == SCALAR:
                a = _full(a)
            fa, fb = a.call(), b.call()
            code = ast.Call(ast.Attribute(ast.Name("torch"), "where"), [cond.code, a.code, b.code], [])
            return _Part(TENSOR, code, lambda env: torch.where(c(env), fa(env), fb(env)))
        if a.kind != b.kind:  # one side a tensor: the other becomes one too, so the result's kind is known
            a, b = (_full(a), b) if a.kind == SCALAR else (a, _full(b))
        fa, fb = a.call(), b.call()
        code = ast.IfExp(cond.code, a.code, b.code)
        return _Part(a.kind, code, lambda env: fa(env) if c(env) else fb(env))

    def call(self, node: ast.Call, depth: int) -> _Part:
        func = node.func
        if isinstance(func, ast.Attribute):
            raise ProgramError(f"attribute access is not allowed: '.{func.attr}'", func.lineno,
                               (func.end_col_offset or 0) - len(func.attr))
        if not isinstance(func, ast.Name):
            self.fail("only the functions sqrt abs sign exp log min max can be called", node)
        name = func.id
        if name not in FUNCTIONS:
            if name in self.kinds:
                self.fail(f"'{name}' is not a function; write {name} * (...) to multiply", node)
            self.fail(f"'{name}' is not a function here; use sqrt, abs, sign, exp, log, min or max", node)
        if node.keywords:
            self.fail(f"keyword arguments are not allowed in {name}(...)", node)
        arity = FUNCTIONS[name]
        if len(node.args) != arity or any(isinstance(a, ast.Starred) for a in node.args):
            self.fail(f"{name}() takes {arity} argument{'s' * (arity > 1)}, got {len(node.args)}", node)
        args = [self.numeric(a, depth + 1) for a in node.args]
        if arity == 1:
            return self.unary_function(name, args[0])
        return self.extreme(name, *args)

    def unary_function(self, name: str, a: _Part) -> _Part:
        if a.kind == SCALAR:
            f = _FLOAT_FUNCTIONS[name]
            if a.const:
                return self.const(f(a.value))
            self.scalar_math = True   # step() computes it on a 0-d tensor, as torch does: log(0) is -inf, no ValueError
        else:
            f = _TORCH_FUNCTIONS[name]
        code = ast.Call(ast.Attribute(ast.Name("torch"), name), [a.code], [])
        fa = a.fn
        return _Part(a.kind, code, lambda env: f(fa(env)))

    def extreme(self, name: str, a: _Part, b: _Part) -> _Part:
        if a.kind == SCALAR and b.kind == SCALAR:
            f = FLOAT.minimum if name == "min" else FLOAT.maximum
            if a.const and b.const:
                return self.const(f(a.value, b.value))
            self.scalar_math = True   # step() holds the numbers as 0-d tensors: torch.minimum, or clamp by a constant
            if a.const or b.const:
                x, c = (b, a) if a.const else (a, b)
                code = ast.Call(ast.Attribute(ast.Name("torch"), "clamp"), [x.code], [ast.keyword("max" if name == "min" else "min", c.code)])
            else:
                code = ast.Call(ast.Attribute(ast.Name("torch"), "minimum" if name == "min" else "maximum"), [a.code, b.code], [])
            return _Part(SCALAR, code, _apply2(f, a, b))
        if a.kind == TENSOR and b.kind == TENSOR:
            f = torch.minimum if name == "min" else torch.maximum
            code = ast.Call(ast.Attribute(ast.Name("torch"), "minimum" if name == "min" else "maximum"), [a.code, b.code], [])
            return _Part(TENSOR, code, _apply2(f, a, b))
        t, s = (a, b) if a.kind == TENSOR else (b, a)
        bound = "max" if name == "min" else "min"
        ft, fs = t.fn, s.call()
        code = ast.Call(ast.Attribute(ast.Name("torch"), "clamp"), [t.code], [ast.keyword(bound, s.code)])
        return _Part(TENSOR, code, lambda env: torch.clamp(ft(env), **{bound: fs(env)}))

    def numeric(self, node: ast.AST, depth: int) -> _Part:
        part = self.visit(node, depth)
        if part.kind in (CONDITION, TENSOR_CONDITION):
            self.fail("a comparison is a condition: use it as 'a if condition else b'", node)
        return part


def _too_deep(expression: ast.AST) -> bool:
    """More than MAX_TREE_DEPTH operations one inside another (found by a loop, not by recursion): the compiler,
    ast.unparse and the compiled closures recurse once or more per level."""
    stack = [(expression, 0)]   # a node and the operations above it
    while stack:
        node, above = stack.pop()
        children = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)]
        if children and above >= MAX_TREE_DEPTH:
            return True
        stack.extend((c, above + 1) for c in children)
    return False


def _fusable(factors: tuple[_Part, _Part] | None) -> bool:
    """A product with a tensor factor: a number times a tensor, or two tensors."""
    return factors is not None and TENSOR in (factors[0].kind, factors[1].kind)


def _fused(a: _Part, factors: tuple[_Part, _Part], minus: bool) -> _Part:
    """a ± s·b (a, b tensors, s a number) as torch.add(a, b, alpha=±s) and a ± x·y (all tensors) as
    torch.addcmul(a, x, y, value=±1): one rounding for the product and the sum, as in torch's own optimizers."""
    if factors[0].kind == TENSOR and factors[1].kind == TENSOR:
        (x, y), (fa, fx, fy) = factors, (a.fn, factors[0].fn, factors[1].fn)
        value = [ast.keyword("value", ast.UnaryOp(ast.USub(), ast.Constant(1)))] if minus else []
        code = ast.Call(ast.Attribute(ast.Name("torch"), "addcmul"), [a.code, x.code, y.code], value)
        v = -1.0 if minus else 1.0
        return _Part(TENSOR, code, lambda env: torch.addcmul(fa(env), fx(env), fy(env), value=v))
    s, b = factors if factors[0].kind == SCALAR else factors[::-1]
    alpha = ast.UnaryOp(ast.USub(), s.code) if minus else s.code
    code = ast.Call(ast.Attribute(ast.Name("torch"), "add"), [a.code, b.code], [ast.keyword("alpha", alpha)])
    fa, fb = a.fn, b.fn
    if s.const:
        v = -s.value if minus else s.value
        return _Part(TENSOR, code, lambda env: torch.add(fa(env), fb(env), alpha=v))
    fs = s.fn
    if minus:
        return _Part(TENSOR, code, lambda env: torch.add(fa(env), fb(env), alpha=-fs(env)))
    return _Part(TENSOR, code, lambda env: torch.add(fa(env), fb(env), alpha=fs(env)))


def _apply2(op: Callable, a: _Part, b: _Part) -> Callable:
    if a.const:
        va, fb = a.value, b.fn
        return lambda env: op(va, fb(env))
    if b.const:
        fa, vb = a.fn, b.value
        return lambda env: op(fa(env), vb)
    fa, fb = a.fn, b.fn
    return lambda env: op(fa(env), fb(env))


def _full(part: _Part) -> _Part:
    """A scalar as a tensor of the parameter's shape (for a choice whose other side is a tensor)."""
    f = part.call()
    code = ast.Call(ast.Attribute(ast.Name("torch"), "full_like"), [ast.Name("param"), part.code], [])
    return _Part(TENSOR, code, lambda env: torch.full_like(env[_PARAM], f(env)))


def _as_tensor(v) -> torch.Tensor:
    return v if isinstance(v, torch.Tensor) else torch.tensor(bool(v))


__all__ = ["CUSTOM", "CustomOptimizer", "EXAMPLE", "FUNCTIONS", "LR", "MAX_LINES", "MAX_PROGRAM_LENGTH", "Program",
           "ProgramError", "class_code", "compile_program", "hyperparameter_params", "language", "name_problem",
           "parse_program"]
