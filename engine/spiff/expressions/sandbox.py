"""Sandbox for every expression and script SpiffWorkflow evaluates.

Code is compiled with RestrictedPython under a stricter policy (no imports, classes,
generator functions, ``with`` or ``finally``). It runs with a small set of builtins and
guard functions, under a per-thread deadline (``sys.settrace`` plus a check at the top of
every loop and function body), and with size checks on the operations that could exhaust
memory or CPU inside a single C call, where no deadline can interrupt them.

Code bounded by its construction runs in the calling thread (`bounded`); everything else, and
bounded code that goes past its allowance, runs in a worker process that is killed at the time
limit plus a margin and has a memory budget (`isolation`). README.md states the guarantee.

This module is the entry point (`SandboxedEnvironment`, `SandboxedScriptEngine`,
`check_expression`); the parts are `restricted` (the policy and compiling), `guards` (what
compiled code calls), `safe_builtins`, `deadline` (the watchdog), `limits` (sizes, errors),
`bounded` and `isolation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import CodeType, ModuleType
from typing import Any, NamedTuple

from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.spiff.expressions import bounded, isolation, loop_counters
from engine.spiff.expressions.deadline import current
from engine.spiff.expressions.guards import GUARDS, make_getattr
from engine.spiff.expressions.isolation import is_data, public, run_traced
from engine.spiff.expressions.limits import SandboxError
from engine.spiff.expressions.restricted import compile_source, compiled_for
from engine.spiff.expressions.safe_builtins import SAFE_BUILTINS
from engine.spiff.runtime.budget import remaining_seconds


def check_expression(source: str, mode: str = "eval") -> str | None:
    """Return None if `source` compiles restricted, else "Line N: reason"; raises ValueError for a bad mode."""
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    compiled = compile_source(source, mode)
    return None if compiled.code is not None else compiled.message


def _namespace(
    context: Mapping[str, Any], external: Mapping[str, Any] | None, builtins: dict[str, Any]
) -> dict[str, Any]:
    namespace = public(external) if external else {}
    namespace.update(public(context))
    namespace["__builtins__"] = builtins
    return namespace


def _write_back(namespace: dict[str, Any], context: dict[str, Any], external: Mapping[str, Any]) -> None:
    updates = {k: v for k, v in public(namespace).items() if is_data(v) and (k not in external or k in context)}
    for key in [k for k in public(context) if k not in updates]:
        del context[key]
    context.update(updates)


def _checked_helpers(extra: Mapping[str, Any]) -> dict[str, Any]:
    helpers = public(extra)
    if len(helpers) != len(extra) or any(isinstance(v, ModuleType) for v in helpers.values()):
        raise ValueError("extra globals: names must not start with '_' and values must not be modules")
    return helpers


class _Builtins(NamedTuple):
    """What the in-process path gives code to see (builtins with the fast guards) and may call."""

    eval: dict[str, Any]
    exec: dict[str, Any]
    eval_calls: frozenset[str]
    exec_calls: frozenset[str]


def _builtins_for(helpers: dict[str, Any]) -> _Builtins:
    base = {**SAFE_BUILTINS, **helpers, **GUARDS}
    return _Builtins(
        bounded.fast_builtins({**base, "_getattr_": make_getattr(read_only=True)}, script=False),
        bounded.fast_builtins({**base, "_getattr_": make_getattr(read_only=False)}, script=True),
        bounded.fast_calls(frozenset(helpers), script=False),
        bounded.fast_calls(frozenset(helpers), script=True),
    )


_PLAIN = _builtins_for({})


class SandboxedEnvironment(BasePythonScriptEngineEnvironment):
    """Script engine environment that runs code restricted, with a per-call time limit."""

    def __init__(self, time_limit: float = 3.0, extra_globals: dict[str, Any] | None = None) -> None:
        """Set up the builtins; raises ValueError for a non-positive limit or an unsafe extra global."""
        if not time_limit > 0:
            raise ValueError("time_limit must be positive")
        helpers = _checked_helpers(extra_globals or {})
        super().__init__(helpers)
        self.time_limit = time_limit
        self._helpers = helpers
        builtins = _builtins_for(helpers) if helpers else _PLAIN  # most callers pass none: shared, built once
        self._fast_eval, self._fast_exec, self._fast_eval_calls, self._fast_exec_calls = builtins

    def evaluate(
        self, expression: str, context: Mapping[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> Any:
        """Return the value of `expression`; raises SyntaxError, SandboxError or what the code raises."""
        compiled = compiled_for(expression, "eval")
        calls = compiled.calls
        if calls is not None and calls <= self._fast_eval_calls:
            namespace = _namespace(context, external_context, self._fast_eval)
            if calls.isdisjoint(namespace):  # no data shadows a builtin it calls
                try:
                    return self._run(compiled.code, namespace)
                except bounded.NeedsIsolation:
                    pass
        return self._isolated("eval", expression, context, external_context)

    def execute(self, script: str, context: dict[str, Any], external_context: Mapping[str, Any] | None = None) -> bool:
        """Run `script`, copy the names it set or deleted into `context`; raises like evaluate."""
        compiled = compiled_for(script, "exec")
        calls = compiled.calls
        if calls is not None and calls <= self._fast_exec_calls:
            namespace = _namespace(context, external_context, self._fast_exec)
            if calls.isdisjoint(namespace):
                try:
                    self._run(compiled.code, namespace)
                except bounded.NeedsIsolation:
                    pass  # the fast path changed only its own namespace: run it all again, isolated
                else:
                    _write_back(namespace, context, external_context or {})
                    return True
        names = self._isolated("exec", script, context, external_context)
        _write_back(names, context, external_context or {})
        return True

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> Any:
        """Refuse the call: raises SandboxError, service calls are not configured."""
        raise SandboxError("service calls are not configured")

    def _limit(self) -> float:
        left = remaining_seconds()  # inside an engine step: no longer than the step has left
        return self.time_limit if left is None else max(min(self.time_limit, left), 0.001)

    def _run(self, code: CodeType | None, namespace: dict[str, Any]) -> Any:
        """The fast path: run bounded code in this thread (see bounded); raises NeedsIsolation past its allowance."""
        assert code is not None  # compiled_for raises otherwise
        current.allowance = bounded.ALLOWANCE
        left = remaining_seconds()  # inside an engine step: no longer than the step has left
        return run_traced(code, namespace, self.time_limit if left is None else max(min(self.time_limit, left), 0.001))

    def _isolated(self, mode: str, source: str, context: Mapping[str, Any], external: Mapping[str, Any] | None) -> Any:
        """Run `source` in a worker process (see isolation); raises like evaluate."""
        data = _namespace(context, external, {})
        del data["__builtins__"]
        return isolation.pool().run(mode, source, data, self._helpers, self._limit)


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

    def get_error_line_number_and_content(self, script: str, err: Exception) -> tuple[int, str]:
        """The script line `err` was raised on; also for an error raised in a worker process (`sandbox_line`)."""
        line = getattr(err, "sandbox_line", 0)
        if not line:
            found: tuple[int, str] = super().get_error_line_number_and_content(script, err)
            return found
        lines = script.splitlines()
        return line, lines[line - 1] if 0 < line <= len(lines) else ""
