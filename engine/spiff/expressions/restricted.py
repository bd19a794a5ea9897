"""Compilation: RestrictedPython's policy, tightened (no imports, classes, generator functions, `with` or
`finally`), with size, exception and deadline guards added; compiled code is cached."""

from __future__ import annotations

import ast
import functools
import threading
import warnings
from types import CodeType
from typing import Any, NamedTuple, cast

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import IOPERATOR_TO_STR, RestrictingNodeTransformer, copy_locations

from engine.spiff.expressions import bounded
from engine.spiff.expressions.deadline import FILENAME
from engine.spiff.expressions.guards import BINOP_GUARDS
from engine.spiff.expressions.limits import SandboxError

_COMPILE_CACHE_SIZE = 4_096
_compile_lock = threading.Lock()


def _call(name: str, args: list[ast.expr], like: ast.stmt | ast.expr | ast.excepthandler) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, like)
    return node


def _assign(name: str, value: ast.expr, like: ast.AST) -> ast.Assign:
    return ast.copy_location(ast.Assign(targets=[ast.Name(name, ast.Store())], value=value), like)


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, tightened, with size, exception and deadline guards added."""

    def _refuse(self, node: ast.AST, what: str) -> ast.AST:
        self.error(node, f"{what} are not allowed")
        return node

    def _with_tick(self, node: Any) -> Any:
        node.body.insert(0, ast.copy_location(ast.Expr(_call("_tick_", [], node)), node))
        return node

    def visit_Import(self, node: ast.Import) -> ast.AST:
        return self._refuse(node, "import statements")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        return self._refuse(node, "import statements")

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self._refuse(node, "class definitions")

    def visit_Yield(self, node: ast.Yield) -> ast.AST:
        return self._refuse(node, "generator functions (yield)")

    def visit_YieldFrom(self, node: ast.YieldFrom) -> ast.AST:
        return self._refuse(node, "generator functions (yield)")

    def visit_With(self, node: ast.With) -> ast.AST:
        return self._refuse(node, "with statements")

    def visit_Try(self, node: ast.Try) -> Any:
        if node.finalbody:  # a finally block would run after a ScriptTimeout
            self.error(node, "try/finally is not allowed")
        return super().visit_Try(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        node = cast(ast.ExceptHandler, super().visit_ExceptHandler(node))
        node.type = _call("_except_", [node.type or ast.Constant(None)], node)
        return node

    def visit_While(self, node: ast.While) -> Any:
        return self._with_tick(super().visit_While(node))

    def visit_For(self, node: ast.For) -> Any:
        return self._with_tick(super().visit_For(node))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        return self._with_tick(super().visit_FunctionDef(node))

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        if isinstance(node.target, ast.Subscript):
            return self._augmented_item(node)
        return super().visit_AugAssign(node)  # names: `_inplacevar_`; attributes: refused

    def _augmented_item(self, node: ast.AugAssign) -> list[ast.stmt]:
        """`a[k] += v` -> `o = a; i = k; _write_(o)[i] = _inplacevar_("+=", _getitem_(o, i), v)`."""
        target = cast(ast.Subscript, node.target)
        self._temporaries = getattr(self, "_temporaries", 0) + 1
        obj, key = f"_item_obj{self._temporaries}", f"_item_key{self._temporaries}"
        current = _call("_getitem_", [ast.Name(obj, ast.Load()), ast.Name(key, ast.Load())], node)
        op = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        store = ast.Subscript(
            value=_call("_write_", [ast.Name(obj, ast.Load())], node), slice=ast.Name(key, ast.Load()), ctx=ast.Store()
        )
        update = ast.Assign(targets=[store], value=_call("_inplacevar_", [op, current, self.visit(node.value)], node))
        return [
            _assign(obj, self.visit(target.value), node),
            _assign(key, self.visit(target.slice), node),
            ast.copy_location(update, node),
        ]

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = cast(ast.BinOp, super().visit_BinOp(node))
        guard = BINOP_GUARDS.get(type(node.op))
        return node if guard is None else _call(guard[0], [node.left, node.right], node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = cast(ast.FormattedValue, super().visit_FormattedValue(node))
        if node.format_spec is None:
            return node
        args = [node.value, ast.Constant(node.conversion), node.format_spec]
        new_node = ast.FormattedValue(value=_call("_format_", args, node), conversion=-1, format_spec=None)
        return ast.copy_location(new_node, node)

    def visit_Module(self, node: ast.Module) -> Any:
        return ast.fix_missing_locations(cast(ast.Module, super().visit_Module(node)))

    def visit_Expression(self, node: ast.Expression) -> Any:
        return ast.fix_missing_locations(cast(ast.Expression, super().visit_Expression(node)))


class Compiled(NamedTuple):
    """What compiling one text gave: the code, or the error to raise and its message."""

    code: CodeType | None
    error: type[Exception] | None = None
    message: str = ""  # one line, starting "Line N:"
    lineno: int = 1
    detail: str = ""  # a SyntaxError's own message
    calls: frozenset[str] | None = None  # bounded.shape: the names fast code calls; None: not fast code


@functools.lru_cache(maxsize=_COMPILE_CACHE_SIZE)
def compile_source(source: str, mode: str) -> Compiled:
    """Compile `source` restricted (cached); never raises, the result carries the error."""
    with _compile_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings in user code are not the engine's warnings
        return _compile_uncached(source, mode)


def _compile_uncached(source: str, mode: str) -> Compiled:
    try:
        tree = cast(ast.Module | ast.Expression, ast.parse(source, FILENAME, mode))
    except (SyntaxError, ValueError) as err:
        lineno = getattr(err, "lineno", None) or 1
        detail = getattr(err, "msg", None) or str(err)
        return Compiled(None, SyntaxError, f"Line {lineno}: SyntaxError: {detail}", lineno, detail)
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    calls = bounded.shape(tree, mode)  # before compiling: the policy changes the tree
    try:
        result = compiler(tree, FILENAME, policy=_SandboxPolicy)
    except RecursionError:
        return Compiled(None, SandboxError, "Line 1: the code is nested too deeply")
    if result.errors:
        return Compiled(None, SandboxError, "; ".join(result.errors).replace("\n", " "))
    return Compiled(result.code, calls=calls)


def code_for(source: str, mode: str) -> CodeType:
    """The compiled code of `source`; raises SyntaxError or SandboxError (refused)."""
    return cast(CodeType, compiled_for(source, mode).code)  # compiled_for raises if there is none


def compiled_for(source: str, mode: str) -> Compiled:
    """What compiling `source` gave, with code; raises SyntaxError or SandboxError (refused)."""
    compiled = compile_source(source, mode)
    if compiled.code is not None:
        return compiled
    if compiled.error is SyntaxError:
        lineno = min(compiled.lineno, max(len(source.splitlines()), 1))
        raise SyntaxError(compiled.detail, (FILENAME, lineno, None, None))
    raise SandboxError(compiled.message)
