"""Forward mode: the JVP interpreter and the helpers that register tangent rules.

A :class:`JVPTracer` carries a primal (a value of the parent trace) and its tangent. A
missing tangent is the symbolic zero: such values are never wrapped, and a primitive none of
whose arguments carries a tangent is passed straight to the parent trace.

A rule receives ``(primals, tangents, **params)`` (tangents ``None`` where zero) and returns
``(primal_out, tangent_out)``; it runs with the parent as the current trace and is written
in functrans operations, so outer transforms differentiate or batch the rule itself.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, cast

from .core import EVAL, PrimalTracer, Primitive, Trace, _state, add_any, add_p, trace_call, zeros_like_p

jvp_rules: dict[Primitive, Callable[..., Any]] = {}
_new = object.__new__


class JVPTracer(PrimalTracer):
    __slots__ = ("tangent",)

    _trace: JVPTrace

    def __init__(self, trace: JVPTrace, primal: Any, tangent: Any):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent


class JVPTrace(Trace):
    __slots__ = ()

    parent: Trace        # a transform always runs above another trace

    def __init__(self, parent: Trace, transform: str = "jvp"):
        self.parent = parent           # Trace.__init__ inlined: one trace per jvp call
        self.transform = transform
        self.alive = True

    def lift(self, primal: Any, tangent: Any) -> Any:
        return primal if tangent is None else JVPTracer(self, primal, tangent)

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> Any:
        primals: Any
        tangents: Any
        if len(args) == 2:     # arithmetic, the most frequent call: without the loop
            x, y = args
            if type(x) is JVPTracer and x._trace is self:
                if type(y) is JVPTracer and y._trace is self:
                    primals, tangents = [x.primal, y.primal], [x.tangent, y.tangent]
                else:
                    primals, tangents = [x.primal, y], [x.tangent, None]
            elif type(y) is JVPTracer and y._trace is self:
                primals, tangents = [x, y.primal], [None, y.tangent]
            else:
                return self._constant(prim, args, params)
        elif len(args) == 1:   # elementwise functions
            x = args[0]
            if type(x) is not JVPTracer or x._trace is not self:
                return self._constant(prim, args, params)
            primals, tangents = [x.primal], [x.tangent]
        else:
            primals = tangents = None
            for i, x in enumerate(args):
                if type(x) is JVPTracer and x._trace is self:
                    if primals is None:
                        primals, tangents = list(args), [None] * len(args)
                    primals[i] = x.primal
                    tangents[i] = x.tangent
            if primals is None:
                return self._constant(prim, args, params)
        rule = jvp_rules.get(prim)
        if rule is None or not prim.differentiable:
            return self._no_rule(prim, primals, params)
        previous = _state.trace
        _state.trace = self.parent
        try:
            # (an empty ``**params`` costs as much as the rest of a call: most have none)
            out, tangent_out = rule(primals, tangents, **params) if params else rule(primals, tangents)
        finally:
            _state.trace = previous
        if tangent_out is None:
            return out
        if prim.multiple_results:
            return tuple(map(self.lift, out, tangent_out))   # (not a comprehension: self would be a cell)
        tracer = _new(JVPTracer)        # JVPTracer(self, out, tangent_out) without the __init__ call
        tracer._trace = self
        tracer.primal = out
        tracer.tangent = tangent_out
        return tracer

    def _constant(self, prim: Primitive, args: Sequence[Any], params: dict) -> Any:
        """No argument carries a tangent: the parent applies the primitive."""
        parent = self.parent
        if parent is not EVAL:
            return parent.process(prim, args, params)
        return prim.impl(*args, **params) if params else prim.impl(*args)

    def _no_rule(self, prim: Primitive, primals: list, params: dict) -> Any:
        if not prim.differentiable:
            return self.parent.process(prim, primals, params)
        raise NotImplementedError(f"jvp rule for '{prim.name}' not registered: register one "
                                  f"with forward.defjvp(prim, ...) (see docs/adding_a_primitive.md)")

    def unpack(self, x: Any) -> tuple[Any, Any]:
        """``(primal, tangent)`` of an output; the tangent is ``None`` for a constant."""
        if type(x) is JVPTracer and x._trace is self:
            return x.primal, x.tangent
        return x, None


def defjvp(prim: Primitive, *rules: Callable[..., Any] | None) -> None:
    """Register per-argument tangent rules ``rule(tangent, ans, *primals, **params)``.

    The tangent out is the sum of the rules of the arguments that carry a tangent; ``None``
    marks an argument with no derivative (an index, a condition).
    """
    def general(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
        ans = prim.bind(*primals, **params)
        tangent_out = None
        for rule, t in zip(rules, tangents):
            if t is not None and rule is not None:
                tangent_out = add_any(tangent_out, rule(t, ans, *primals, **params))
        return ans, tangent_out

    jvp = general

    # Unrolled for one and two differentiable arguments (elementwise arithmetic): the hottest rules.
    if len(rules) == 1 and rules[0] is not None:
        only = rules[0]

        def jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:  # noqa: F811
            if params:
                ans = prim.bind(*primals, **params)
                return ans, only(tangents[0], ans, *primals, **params)
            ans = prim.bind(*primals)              # (without an empty ``**params``: cheaper)
            return ans, only(tangents[0], ans, *primals)
    elif len(rules) == 2 and None not in rules:
        first, second = cast("tuple[Callable[..., Any], Callable[..., Any]]", rules)   # no None

        def jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:  # noqa: F811
            if params:
                return general(primals, tangents, **params)
            ans = prim.bind(*primals)              # (without an empty ``**params``: cheaper)
            tx, ty = tangents
            if ty is None:
                return ans, first(tx, ans, *primals)
            if tx is None:
                return ans, second(ty, ans, *primals)
            return ans, add_p.bind(first(tx, ans, *primals), second(ty, ans, *primals))
    jvp_rules[prim] = jvp


def deflinear(prim: Primitive) -> None:
    """Register the tangent rule of a primitive that is linear in all its arguments jointly."""
    def jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
        ans = prim.bind(*primals, **params)
        tangents = [zeros_like_p.bind(p) if t is None else t for p, t in zip(primals, tangents)]
        return ans, prim.bind(*tangents, **params)
    jvp_rules[prim] = jvp


def jvp_flat(fun: Callable[..., Any], primals: list, tangents: list,
             transform: str = "jvp") -> tuple[Any, JVPTrace]:
    """Run ``fun`` on tracers of a new JVP trace; ``(out, trace)``, the trace for unpacking."""
    trace = JVPTrace(_state.trace, transform)
    out = trace_call(trace, fun, list(map(trace.lift, primals, tangents)))
    return out, trace


__all__ = ["JVPTrace", "JVPTracer", "jvp_rules", "defjvp", "deflinear", "jvp_flat", "EVAL"]
