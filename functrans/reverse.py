"""Reverse mode: the VJP interpreter, its tape and the backward pass.

A :class:`VJPTrace` evaluates each primitive on the primal values at the parent level and
appends a node ``(rule, ans, primals, params, argnums, slots, out, symbolic_zeros)`` to its
tape, where ``rule`` is the primitive's cotangent rule, ``argnums`` the positions of the
traced arguments, ``slots`` their slots and ``out`` the slot (or tuple of slots) of the
result. Slots number the traced values; the backward pass walks the
tape in reverse with a flat list of cotangents indexed by slot: iterative, so depth costs no
Python recursion, and the tape lives exactly as long as the pullback that holds it.

Cotangent rules run in whatever trace is current when the pullback is called and are written
in functrans operations: differentiating the backward pass gives higher derivatives.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, cast

from numpy import ndarray

from .core import (EVAL, PrimalTracer, Primitive, Trace, _state, add_p, aval_of, op2, trace_call,
                   zeros_like_p)

vjp_rules: dict[Primitive, Callable[..., Any]] = {}
_FIRST, _SECOND, _BOTH = (0,), (1,), (0, 1)     # argnums shared by the nodes of most calls
_new = object.__new__
add = op2(add_p)     # accumulates fan-out cotangents (a primitive: NumPy only in impls)


class VJPTracer(PrimalTracer):
    __slots__ = ("slot",)

    _trace: VJPTrace

    def __init__(self, trace: VJPTrace, primal: Any, slot: int):
        self._trace = trace
        self.primal = primal
        self.slot = slot


class VJPTrace(Trace):
    __slots__ = ("tape", "num_slots")

    parent: Trace        # a transform always runs above another trace

    def __init__(self, parent: Trace, transform: str = "vjp"):
        self.parent = parent           # Trace.__init__ inlined: one trace per grad call
        self.transform = transform
        self.alive = True
        self.tape: list[Any] = []      # node tuples; backward_pass(consume=True) sets them to None
        self.num_slots = 0

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> Any:
        # The hottest function of reverse mode: calls of one and two arguments are unrolled,
        # and nodes share the argnums tuples.
        n = len(args)
        if n == 1:
            x = args[0]
            if type(x) is not VJPTracer or x._trace is not self:
                return self.parent.process(prim, args, params)
            primals: Any = (x.primal,)
            argnums: Any = _FIRST
            slots: Any = (x.slot,)
        elif n == 2:
            x, y = args
            if type(x) is VJPTracer and x._trace is self:
                if type(y) is VJPTracer and y._trace is self:
                    primals, argnums, slots = (x.primal, y.primal), _BOTH, (x.slot, y.slot)
                else:
                    primals, argnums, slots = (x.primal, y), _FIRST, (x.slot,)
            elif type(y) is VJPTracer and y._trace is self:
                primals, argnums, slots = (x, y.primal), _SECOND, (y.slot,)
            else:
                return self.parent.process(prim, args, params)
        else:
            primals = list(args)
            argnums = []
            slots = []
            i = 0
            for x in args:
                if type(x) is VJPTracer and x._trace is self:
                    primals[i] = x.primal
                    argnums.append(i)
                    slots.append(x.slot)
                i += 1
            if not argnums:
                return self.parent.process(prim, args, params)
        parent = self.parent
        if parent is not EVAL:
            ans = parent.process(prim, primals, params)
        else:
            ans = prim.impl(*primals, **params) if params else prim.impl(*primals)
        if not prim.differentiable:
            return ans
        rule = vjp_rules.get(prim)
        if rule is None:
            raise NotImplementedError(f"vjp rule for '{prim.name}' not registered: register one "
                                      f"with reverse.defvjp(prim, ...) (see docs/adding_a_primitive.md)")
        slot = self.num_slots
        if prim.multiple_results:
            n = len(ans)
            self.num_slots = slot + n
            out_slots = tuple(range(slot, slot + n))
            self.tape.append((rule, None if prim.residuals == "primals" else ans, primals, params,
                              argnums, slots, out_slots, prim.symbolic_zero_cts))
            tracers = []     # a loop: a comprehension would make self a cell in every call
            for a, s in zip(ans, out_slots):
                tracers.append(VJPTracer(self, a, s))
            return tuple(tracers)
        self.num_slots = slot + 1
        keep = prim.residuals
        if keep == "all" or type(ans) is not ndarray or ans.size < 4096:   # small: keep all
            self.tape.append((rule, ans, primals, params, argnums, slots, slot, False))
        else:       # drop what the rule does not read, so memory holds only residuals
            kept = primals if keep == "primals" else [aval_of(p) for p in primals]
            self.tape.append((rule, ans if keep == "ans" else None, kept, params, argnums, slots,
                              slot, False))
        out = _new(VJPTracer)      # VJPTracer(self, ans, slot) without the __init__ call
        out._trace = self
        out.primal = ans
        out.slot = slot
        return out

    def slot_of(self, x: Any) -> int | None:
        return x.slot if type(x) is VJPTracer and x._trace is self else None


def backward(trace: VJPTrace, out_slots: Sequence[int | None], out_cts: Sequence[Any],
             in_slots: Sequence[int], consume: bool = False) -> list:
    """Cotangents of the inputs ``in_slots`` given those of the outputs (``None`` is zero).

    With ``consume`` the tape is emptied as it is walked, freeing each node's residuals as
    soon as its cotangent rule has run (for a pullback that is called once).
    """
    cts: list = [None] * trace.num_slots
    for slot, ct in zip(out_slots, out_cts):
        if slot is not None and ct is not None:
            previous = cts[slot]
            cts[slot] = ct if previous is None else add(previous, ct)
    tape = trace.tape
    for k in range(len(tape) - 1, -1, -1):
        rule, ans, primals, params, argnums, slots, out, symbolic_zeros = tape[k]
        if consume:
            tape[k] = None        # free this node's residuals once its rule has run
        if type(out) is int:
            ct = cts[out]
            if ct is None:
                continue
            cts[out] = None
        else:
            ct = tuple(map(cts.__getitem__, out))    # (a comprehension would make cts a cell)
            for c in ct:
                if c is not None:
                    break
            else:                 # no output has a cotangent
                continue
            if not symbolic_zeros:
                ct = tuple(zeros_like_p.bind(a) if c is None else c for c, a in zip(ct, ans))
            for s in out:
                cts[s] = None
        in_cts = rule(ct, ans, primals, params, argnums)
        if len(slots) == 1:        # the common case, without the loop
            c = in_cts[0]
            if c is not None:
                slot = slots[0]
                previous = cts[slot]
                cts[slot] = c if previous is None else add(previous, c)
            continue
        for slot, c in zip(slots, in_cts):
            if c is not None:
                previous = cts[slot]
                cts[slot] = c if previous is None else add(previous, c)
    if consume:
        tape.clear()
    if type(in_slots) is range and in_slots.step == 1 and in_slots.start >= 0:
        return cts[in_slots.start:in_slots.stop]       # the first slots (every _Reverse)
    return list(map(cts.__getitem__, in_slots))     # (a comprehension would make cts a cell)


def defvjp(prim: Primitive, *rules: Callable[..., Any] | None) -> None:
    """Register per-argument cotangent rules ``rule(ct, ans, *primals, **params)``.

    ``ans`` is the primitive's output, so rules never recompute it (autograd's style);
    ``None`` marks an argument with no derivative.
    """
    # Unrolled for one and two arguments without params (arithmetic): the hottest rules.
    if len(rules) == 1 and rules[0] is not None:
        rule = rules[0]

        def vjp(ct: Any, ans: Any, primals: Sequence, params: dict, argnums: Sequence) -> Any:
            if argnums == _FIRST:
                return (rule(ct, ans, *primals, **params) if params else rule(ct, ans, *primals),)
            return [rule(ct, ans, *primals, **params) if i == 0 else None for i in argnums]
    elif len(rules) == 2 and None not in rules:
        first, second = cast("tuple[Callable[..., Any], Callable[..., Any]]", rules)   # no None, checked

        def vjp(ct: Any, ans: Any, primals: Sequence, params: dict, argnums: Sequence) -> Any:
            if params:
                return [(first if i == 0 else second)(ct, ans, *primals, **params) for i in argnums]
            x, y = primals
            if len(argnums) == 2:
                return (first(ct, ans, x, y), second(ct, ans, x, y))
            return ((first if argnums[0] == 0 else second)(ct, ans, x, y),)
    else:
        padded = rules + (None,) * 8

        def vjp(ct: Any, ans: Any, primals: Sequence, params: dict, argnums: Sequence) -> Any:
            return [None if padded[i] is None else padded[i](ct, ans, *primals, **params)
                    for i in argnums]
    vjp_rules[prim] = vjp


def defvjp_all(prim: Primitive, rule: Callable[..., Sequence[Any]]) -> None:
    """Register a joint rule ``rule(ct, ans, *primals, **params) -> cotangent per argument``."""
    def vjp(ct: Any, ans: Any, primals: list, params: dict, argnums: list) -> list:
        cts = rule(ct, ans, *primals, **params)
        return [cts[i] for i in argnums]
    vjp_rules[prim] = vjp


def new_trace(primals: Sequence[Any], transform: str = "vjp") -> tuple[VJPTrace, list]:
    """A VJP trace above the current one and a tracer of it per primal, in slots 0, 1, ..."""
    trace = VJPTrace(_state.trace, transform)
    tracers = []
    for slot, p in enumerate(primals):
        x = _new(VJPTracer)        # VJPTracer(trace, p, slot) without the __init__ call
        x._trace = trace
        x.primal = p
        x.slot = slot
        tracers.append(x)
    trace.num_slots = len(tracers)
    return trace, tracers


def vjp_flat(fun: Callable[..., Any], primals: Sequence[Any],
             transform: str = "vjp") -> tuple[Any, VJPTrace, list]:
    """Run ``fun`` on fresh tracers of a new VJP trace: ``(out, trace, input slots)``."""
    trace, tracers = new_trace(primals, transform)
    out = trace_call(trace, fun, tracers)
    return out, trace, list(range(len(tracers)))


__all__ = ["VJPTrace", "VJPTracer", "vjp_rules", "defvjp", "defvjp_all", "backward", "vjp_flat",
           "new_trace"]
