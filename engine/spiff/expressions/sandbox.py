"""Sandbox for every expression and script SpiffWorkflow evaluates.

Code is compiled with RestrictedPython under a stricter policy (no imports, classes,
generator functions, ``with`` or ``finally``). It runs with a small set of builtins and
guard functions, under a per-thread deadline (``sys.settrace`` plus a check at the top of
every loop and function body), and with size checks on the operations that could exhaust
memory or CPU inside a single C call, where no deadline can interrupt them.

This module is the entry point (`SandboxedEnvironment`, `SandboxedScriptEngine`,
`check_expression`); the parts are `restricted` (the policy and compiling), `guards` (what
compiled code calls), `safe_builtins`, `deadline` (the watchdog) and `limits` (sizes, errors).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import CodeType, ModuleType
from typing import Any

from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.spiff.expressions import loop_counters
from engine.spiff.expressions.deadline import Watchdog, traced_eval
from engine.spiff.expressions.guards import GUARDS, make_getattr
from engine.spiff.expressions.limits import SandboxError
from engine.spiff.expressions.restricted import code_for, compile_source
from engine.spiff.expressions.safe_builtins import DENIED_NAMES, SAFE_BUILTINS
from engine.spiff.runtime.budget import remaining_seconds


def check_expression(source: str, mode: str = "eval") -> str | None:
    """Return None if `source` compiles restricted, else "Line N: reason"; raises ValueError for a bad mode."""
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    compiled = compile_source(source, mode)
    return None if compiled.code is not None else compiled.message


def _public(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    """Copy `mapping` without its keys that start with "_" (and without non-str keys)."""
    return {k: v for k, v in mapping.items() if type(k) is str and k[:1] != "_"}


def _namespace(
    context: Mapping[str, Any], external: Mapping[str, Any] | None, builtins: dict[str, Any]
) -> dict[str, Any]:
    namespace = _public(external) if external else {}
    namespace.update(_public(context))
    namespace["__builtins__"] = builtins
    return namespace


def _is_data(value: object) -> bool:
    return not callable(value) and not isinstance(value, ModuleType)


def _write_back(namespace: dict[str, Any], context: dict[str, Any], external: Mapping[str, Any]) -> None:
    updates = {k: v for k, v in _public(namespace).items() if _is_data(v) and (k not in external or k in context)}
    for key in [k for k in _public(context) if k not in updates]:
        del context[key]
    context.update(updates)


def _refusal(err: NameError) -> SandboxError | None:
    """Explain a NameError for a builtin the sandbox leaves out; None for an ordinary one."""
    if err.name == "_print":
        return SandboxError("print() is available in scripts only")
    if err.name in DENIED_NAMES:
        return SandboxError(f"{err.name!r} is not available in expressions and scripts")
    return None


def _checked_helpers(extra: Mapping[str, Any]) -> dict[str, Any]:
    helpers = _public(extra)
    if len(helpers) != len(extra) or any(isinstance(v, ModuleType) for v in helpers.values()):
        raise ValueError("extra globals: names must not start with '_' and values must not be modules")
    return helpers


class SandboxedEnvironment(BasePythonScriptEngineEnvironment):
    """Script engine environment that runs code restricted, with a per-call time limit."""

    def __init__(self, time_limit: float = 3.0, extra_globals: dict[str, Any] | None = None) -> None:
        """Set up the builtins; raises ValueError for a non-positive limit or an unsafe extra global."""
        if not time_limit > 0:
            raise ValueError("time_limit must be positive")
        helpers = _checked_helpers(extra_globals or {})
        super().__init__(helpers)
        self.time_limit = time_limit
        base = {**SAFE_BUILTINS, **helpers, **GUARDS}
        self._eval_builtins = {**base, "_getattr_": make_getattr(read_only=True)}
        self._exec_builtins = {**base, "_getattr_": make_getattr(read_only=False)}

    def evaluate(
        self, expression: str, context: Mapping[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> Any:
        """Return the value of `expression`; raises SyntaxError, SandboxError or what the code raises."""
        code = code_for(expression, "eval")
        return self._run(code, _namespace(context, external_context, self._eval_builtins))

    def execute(self, script: str, context: dict[str, Any], external_context: Mapping[str, Any] | None = None) -> bool:
        """Run `script`, copy the names it set or deleted into `context`; raises like evaluate."""
        code = code_for(script, "exec")
        namespace = _namespace(context, external_context, self._exec_builtins)
        self._run(code, namespace)
        _write_back(namespace, context, external_context or {})
        return True

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> Any:
        """Refuse the call: raises SandboxError, service calls are not configured."""
        raise SandboxError("service calls are not configured")

    def _run(self, code: CodeType, namespace: dict[str, Any]) -> Any:
        left = remaining_seconds()  # inside an engine step: no longer than the step has left
        watchdog = Watchdog(self.time_limit if left is None else min(self.time_limit, left))
        try:
            result = traced_eval(code, namespace, watchdog)
        except NameError as err:
            refusal = _refusal(err)
            if refusal is None:
                raise
            raise refusal.with_traceback(err.__traceback__) from err
        if watchdog.expired:  # the timeout was raised and then swallowed somewhere
            raise watchdog.expire()
        return result


class SandboxedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine that evaluates everything in a SandboxedEnvironment."""

    def __init__(self, time_limit: float = 3.0) -> None:
        """Create the engine; raises ValueError for a non-positive time limit."""
        super().__init__(environment=SandboxedEnvironment(time_limit))

    def evaluate(self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        """Evaluate on `task`'s data (with Camunda's multi-instance counters on an instance); raises like Spiff."""
        loop = loop_counters.counters(task)
        if loop is not None:
            external_context = {**loop, **(external_context or {})}
        return super().evaluate(task, expression, external_context)

    def validate(self, expression: str) -> None:
        """Check that `expression` compiles in the sandbox; raises SyntaxError with the reason."""
        message = check_expression(expression, "eval")
        if message is not None:
            raise SyntaxError(message)
