"""Reliability: deep and wide graphs, memory, threads, faults, and IEEE special values.

* 100,000-op chains and 10,000-way fan-out / fan-in under every transform and nested ones,
  without RecursionError, against closed forms;
* memory: after a pullback is dropped nothing of its tape survives (weak references), and a
  1,000-step training loop does not grow the process's memory (tracemalloc);
* threads: eight threads running different nested transforms at once (barrier-synchronised)
  get exactly the single-threaded answers; a tracer never crosses threads unnoticed; the
  eval fast path stays right in a thread with no transform while others run one;
* faults: an exception anywhere (user function, custom rules, hooks, remat, pullbacks) leaves
  no interpreter behind and the next call works; pullbacks can be called again and again;
* NaN and inf propagate as IEEE says, never becoming silent zeros beyond API.md's conventions.

(``tests/test_errors.py`` holds the older robustness tests: 100k grad/vjp chains, no
mutation of inputs, error classes and messages.)
"""

from __future__ import annotations

import gc
import queue
import threading
import tracemalloc
import warnings
import weakref

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import core
from functrans.errors import LeakedTracerError

N = 100_000
C = 1.00001          # chain factor: C**N = e**1.0000, well inside float64


def chain(x):
    for _ in range(N):
        x = x * C
    return x


def close(a, b, rtol=1e-9, atol=0.0):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol, atol=atol)


def assert_no_interpreter(active_before=0):
    assert core.current_trace() is core.EVAL
    assert core._active == active_before


# ---------------------------------------------------------------------------------------
# Deep chains: one test per mode (grad and vjp are in test_errors.py).

K = C ** N           # d chain / dx


def test_deep_chain_jvp():
    out, t = ft.jvp(chain, (np.array([1.0, 2.0]),), (np.array([1.0, -3.0]),))
    close(out, np.array([1.0, 2.0]) * K)
    close(t, np.array([1.0, -3.0]) * K)


def test_deep_chain_vmap():
    close(ft.vmap(chain)(np.arange(3.0)), np.arange(3.0) * K)


def test_deep_chain_remat():
    close(ft.grad(ft.remat(chain))(0.5), K)


def test_deep_chain_grad_of_grad():
    # f = chain(x)**2 = K**2 x**2: f'' = 2 K**2
    close(ft.grad(ft.grad(lambda x: chain(x) ** 2))(0.7), 2 * K * K)


def test_deep_chain_jvp_of_grad():
    close(ft.jvp(ft.grad(lambda x: chain(x) ** 2), (0.7,), (3.0,))[1], 3.0 * 2 * K * K)


def test_deep_chain_vmap_of_grad():
    def short_chain(x):                    # a fifth of the length: vmap of grad is the slowest
        for _ in range(N // 5):
            x = x * C
        return x
    k = C ** (N // 5)
    xs = np.array([1.0, 2.0])
    close(ft.vmap(ft.grad(lambda x: short_chain(x) ** 3))(xs), 3 * k ** 3 * xs ** 2)


# ---------------------------------------------------------------------------------------
# Wide graphs: 10,000-way fan-out (one input used 10,000 times) and fan-in (10,000 values
# summed), every mode.

W = 10_000
COEF = np.linspace(0.1, 1.0, W)


def fan(x):
    total = 0.0
    for c in COEF:                 # fan-out of x, fan-in by a chain of adds
        total = total + fnp.sin(x * c)
    return total


def fan_stacked(x):
    return fnp.sum(fnp.stack([x * c for c in COEF]) ** 2)    # fan-in through one 10,000-ary stack


X0 = 0.3


def fan_d(k):
    """The k-th derivative of fan at X0 (closed form)."""
    return np.sum(COEF ** k * np.sin(COEF * X0 + k * np.pi / 2))


@pytest.mark.parametrize("mode", ["grad", "jvp", "vjp", "vmap_grad", "remat", "grad_grad", "jvp_grad"])
def test_fan_out_fan_in(mode):
    if mode == "grad":
        close(ft.grad(fan)(X0), fan_d(1))
    elif mode == "jvp":
        close(ft.jvp(fan, (X0,), (2.0,))[1], 2 * fan_d(1))
    elif mode == "vjp":
        _, pb = ft.vjp(fan, X0)
        close(pb(1.0)[0], fan_d(1))
        close(pb(-2.0)[0], -2 * fan_d(1))
    elif mode == "vmap_grad":
        xs = np.array([X0, X0])
        close(ft.vmap(ft.grad(fan))(xs), [fan_d(1)] * 2)
    elif mode == "remat":
        close(ft.grad(ft.remat(fan))(X0), fan_d(1))
    elif mode == "grad_grad":
        close(ft.grad(ft.grad(fan))(X0), fan_d(2))
    else:
        close(ft.jvp(ft.grad(fan), (X0,), (1.0,))[1], fan_d(2))


def test_fan_in_through_one_stack():
    s2 = np.sum(COEF ** 2)
    close(ft.grad(fan_stacked)(X0), 2 * s2 * X0)
    close(ft.jvp(fan_stacked, (X0,), (1.0,))[1], 2 * s2 * X0)
    close(ft.grad(ft.grad(fan_stacked))(X0), 2 * s2)


def test_vmap_fan_out_fan_in():
    xs = np.array([X0, -X0, 1.0])
    want = [np.sum(np.sin(x * COEF)) for x in xs]
    close(ft.vmap(fan)(xs), want, rtol=1e-12)


# ---------------------------------------------------------------------------------------
# Memory: the tape lives exactly as long as the pullback.

def _traced_run(make, x):
    """Run ``make`` (a transform of ``f``) and return its result and weak references to every
    trace that traced ``f``'s intermediate ``y`` and to ``y``'s array, which the tape keeps."""
    refs = []

    def f(x):
        y = x * 2.0                                   # y's value: a residual of sin below
        v = y
        while isinstance(v, core.Tracer):
            refs.append(weakref.ref(v._trace))
            v = v._payload()
        if isinstance(v, np.ndarray):
            refs.append(weakref.ref(v))
        return fnp.sum(fnp.sin(y))
    return make(f, x), refs


def _dead(refs):
    assert refs, "nothing was traced"
    alive = [r() for r in refs if r() is not None]
    assert not alive, f"outlived the transform: {[type(a).__name__ for a in alive]}"


@pytest.mark.parametrize("make", [
    lambda f, x: ft.vjp(f, x),
    lambda f, x: ft.grad(f)(x),
    lambda f, x: ft.value_and_grad(f)(x),
    lambda f, x: ft.grad(ft.remat(f))(x),
    lambda f, x: ft.jacrev(f)(x),
    lambda f, x: ft.vmap(ft.grad(f))(x[None]),
    lambda f, x: ft.jvp(f, (x,), (x,)),
], ids=["vjp", "grad", "value_and_grad", "remat", "jacrev", "vmap_grad", "jvp"])
def test_tape_freed_when_pullback_dropped(make):
    x = np.linspace(0.0, 1.0, 10_000)
    result, refs = _traced_run(make, x)
    if isinstance(result, tuple) and callable(result[1]):          # a pullback: it keeps the tape
        out, pullback = result
        assert any(r() is not None for r in refs)
        close(pullback(1.0)[0], 2 * np.cos(2 * x))
        close(pullback(3.0)[0], 6 * np.cos(2 * x))                  # callable again
        del pullback, out, result
    else:
        del result
    gc.collect()
    _dead(refs)


def test_tape_freed_without_the_cycle_collector():
    """Reference counting alone frees the tape: no cycle keeps it waiting for gc."""
    x = np.linspace(0.0, 1.0, 10_000)
    gc.collect()
    gc.disable()
    try:
        (out, pullback), refs = _traced_run(lambda f, x: ft.vjp(f, x), x)
        pullback(1.0)
        del out, pullback
        _dead(refs)
        _, refs = _traced_run(lambda f, x: ft.grad(lambda x: fnp.sum(ft.grad(f)(x)))(x), x)
        assert len(refs) == 3                      # two traces and the array
        _dead(refs)
    finally:
        gc.enable()


def test_deep_chain_tape_released():
    def f(x):
        box.append(weakref.ref(x._trace))
        return chain(x)
    box = []
    _, pullback = ft.vjp(f, 1.0)
    close(pullback(1.0)[0], K)
    del pullback
    gc.collect()
    assert box[0]() is None


def test_training_loop_does_not_grow_memory():
    rng = np.random.default_rng(0)
    model = ft.nn.Sequential([ft.nn.Dense(4, 16, activation=ft.nn.relu, rng=rng),
                              ft.nn.Dense(16, 3, rng=rng)])
    xs = rng.standard_normal((32, 4))
    labels = rng.integers(0, 3, 32)
    opt = ft.optim.SGD(learning_rate=0.05)
    state = opt.init(model)

    def loss(m):
        return ft.nn.softmax_cross_entropy(m(xs), labels)

    step = ft.value_and_grad(loss)
    losses = []
    tracemalloc.start()
    try:
        for i in range(1000):
            value, grads = step(model)
            model, state = opt.update(model, grads, state)
            losses.append(float(value))
            if i == 99:
                gc.collect()
                at_100 = tracemalloc.get_traced_memory()[0]
        gc.collect()
        at_1000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert losses[-1] < losses[0] * 0.8          # it trains
    # 900 more steps may not keep anything: allow 100 kB of noise (a step allocates ~MBs)
    assert at_1000 - at_100 < 100_000, (at_100, at_1000)


# ---------------------------------------------------------------------------------------
# Threads.

def _f(x):
    return fnp.sum(fnp.sin(x) * x ** 2)


X = np.array([0.3, -0.7, 1.1])

# Each job: (name, function of X). Closed forms checked in test_thread_jobs_closed_forms.
JOBS = [
    ("grad", lambda: ft.grad(_f)(X)),
    ("hessian", lambda: ft.hessian(_f)(X)),
    ("grad_grad_grad", lambda: ft.grad(ft.grad(ft.grad(lambda x: fnp.sin(x) * x ** 2)))(0.4)),
    ("vmap_grad", lambda: ft.vmap(ft.grad(lambda x: fnp.sin(x) * x ** 2))(X)),
    ("jvp_grad", lambda: ft.jvp(ft.grad(_f), (X,), (np.ones(3),))[1]),
    ("jacrev_vmap", lambda: ft.jacrev(ft.vmap(lambda x: fnp.sin(x) * x ** 2))(X)),
    ("remat_grad", lambda: ft.grad(ft.remat(_f))(X)),
    ("vjp", lambda: ft.vjp(lambda x: fnp.sin(x) * x ** 2, X)[1](np.ones(3))[0]),
]


def _d(k, x):
    """k-th derivative of sin(x) x**2."""
    s, c = np.sin(x), np.cos(x)
    return {1: c * x ** 2 + 2 * x * s,
            2: -s * x ** 2 + 4 * x * c + 2 * s,
            3: -c * x ** 2 - 6 * x * s + 6 * c}[k]


def test_thread_jobs_closed_forms():
    want = {"grad": _d(1, X), "hessian": np.diag(_d(2, X)), "grad_grad_grad": _d(3, 0.4),
            "vmap_grad": _d(1, X), "jvp_grad": _d(2, X), "jacrev_vmap": np.diag(_d(1, X)),
            "remat_grad": _d(1, X), "vjp": _d(1, X)}
    for name, job in JOBS:
        close(job(), want[name], rtol=1e-12, atol=1e-14)


def _run_threads(targets):
    errors = []

    def guard(target):
        try:
            target()
        except BaseException as e:         # reported by the main thread
            errors.append(e)
    threads = [threading.Thread(target=guard, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


def test_eight_threads_nested_transforms_exact():
    want = {name: np.asarray(job()) for name, job in JOBS}
    barrier = threading.Barrier(len(JOBS))
    got = {name: [] for name, _ in JOBS}

    def worker(name, job):
        def run():
            for _ in range(15):
                barrier.wait(timeout=120)       # all eight start each round together
                got[name].append(np.asarray(job()))
                assert core.current_trace() is core.EVAL
        return run
    _run_threads([worker(name, job) for name, job in JOBS])
    for name, results in got.items():
        assert len(results) == 15
        for r in results:
            np.testing.assert_array_equal(r, want[name], err_msg=name)    # bit-for-bit
    assert_no_interpreter()


def test_eval_fast_path_right_while_another_thread_transforms():
    """``_active`` counts transforms in all threads: a thread with none must still compute
    plain values (and its functions must not return tracers) while others run transforms."""
    stop = threading.Event()
    started = threading.Event()
    seen = []

    def transformer():
        def f(x):
            started.set()
            while not stop.is_set():
                x = fnp.sin(x) * 0.5 + x * 0.5
            return fnp.sum(x)
        ft.grad(f)(X)

    def plain():
        started.wait(timeout=60)
        for _ in range(2000):
            assert core._active >= 1 or stop.is_set()
            y = fnp.sum(fnp.exp(X) * 2.0)
            assert type(y) is not core.Tracer and not isinstance(y, core.Tracer)
            seen.append(float(y))
        ft.grad(_f)(X)                                   # its own transform, meanwhile
        stop.set()

    _run_threads([transformer, plain])
    assert seen and all(v == float(np.sum(np.exp(X) * 2.0)) for v in seen)
    assert_no_interpreter()


def test_active_counter_after_exceptions_in_threads():
    barrier = threading.Barrier(4)

    def failing():
        for _ in range(20):
            barrier.wait(timeout=60)
            with pytest.raises(Boom):
                ft.vmap(ft.grad(lambda x: _boom() + x))(X)
            with pytest.raises(Boom):
                ft.jvp(ft.grad(ft.remat(_boom)), (1.0,), (1.0,))
            assert core.current_trace() is core.EVAL
    _run_threads([failing] * 4)
    assert_no_interpreter()


def test_one_pullback_called_from_eight_threads_at_once():
    """A pullback is data: threads other than its creator may call it, concurrently."""
    _, pullback = ft.vjp(lambda x: fnp.sin(x) * x ** 2, X)
    barrier = threading.Barrier(8)
    got = {}

    def worker(k):
        def run():
            barrier.wait(timeout=60)
            for _ in range(20):
                got[k] = pullback(np.full(3, float(k)))[0]
        return run
    _run_threads([worker(k) for k in range(8)])
    for k in range(8):
        np.testing.assert_array_equal(got[k], pullback(np.full(3, float(k)))[0])
        close(got[k], k * _d(1, X), rtol=1e-14)
    assert_no_interpreter()


def _hand_over(use):
    """Thread A's grad hands its tracer to thread B, which calls ``use(tracer)``; B's
    exception (if any) is returned after A has finished with an exact answer."""
    to_b, to_a = queue.Queue(), queue.Queue()
    result = {}

    def a():
        def f(x):
            to_b.put(x)
            to_a.get(timeout=60)             # stay inside the transform while B works
            return fnp.sin(x)
        result["a"] = ft.grad(f)(1.0)

    def b():
        t = to_b.get(timeout=60)
        try:
            result["b"] = use(t)
        except Exception as e:
            result["b_error"] = e
        finally:
            to_a.put(None)
            result["b_trace"] = core.current_trace()
    _run_threads([a, b])
    close(result["a"], np.cos(1.0), rtol=0)
    assert result["b_trace"] is core.EVAL
    return result


@pytest.mark.parametrize("use", [
    lambda t: fnp.sin(t),
    lambda t: np.sin(t),
    lambda t: ft.grad(lambda y: fnp.sum(y * fnp.sin(t)))(2.0),
    lambda t: ft.jvp(lambda y: y * fnp.exp(t), (2.0,), (1.0,)),
    lambda t: ft.vmap(lambda y: y + fnp.cos(t))(X),
], ids=["eval", "numpy", "grad", "jvp", "vmap"])
def test_tracer_of_another_thread_is_refused(use):
    result = _hand_over(use)
    assert "b" not in result, "another thread's tracer was computed with"
    err = result["b_error"]
    assert isinstance(err, LeakedTracerError)
    assert "another thread" in str(err) and "`grad`" in str(err)
    assert_no_interpreter()


def test_tracer_of_another_thread_as_a_constant_is_its_value():
    """Python conversions read the tracer's primal: a constant, never a confused derivative."""
    result = _hand_over(lambda t: ft.grad(lambda y: y * float(t))(2.0))
    close(result["b"], 1.0, rtol=0)


# ---------------------------------------------------------------------------------------
# Faults: no interpreter left behind, a clear error, and the next call works.

class Boom(Exception):
    pass


def _boom(*_):
    raise Boom("boom")


def _custom_vjp(fwd=None, bwd=None):
    f = ft.custom_vjp(lambda x: fnp.sin(x))
    f.defvjp(fwd or (lambda x: (fnp.sin(x), x)), bwd or (lambda x, g: (g * fnp.cos(x),)))
    return f


def _custom_jvp(rule):
    f = ft.custom_jvp(lambda x: fnp.sin(x))
    f.defjvp(rule)
    return f


FAULTS = {
    "user_function": lambda: ft.grad(lambda x: _boom() + x)(1.0),
    "custom_vjp_fwd": lambda: ft.grad(_custom_vjp(fwd=_boom))(1.0),
    "custom_vjp_bwd": lambda: ft.grad(_custom_vjp(bwd=_boom))(1.0),
    "custom_vjp_bwd_nested": lambda: ft.grad(ft.grad(_custom_vjp(bwd=_boom)))(1.0),
    "custom_vjp_bwd_in_vmap": lambda: ft.vmap(ft.grad(_custom_vjp(bwd=_boom)))(X),
    "custom_jvp_rule": lambda: ft.jvp(_custom_jvp(_boom), (1.0,), (1.0,)),
    "custom_jvp_rule_under_grad": lambda: ft.grad(_custom_jvp(_boom))(1.0),
    "hook": lambda: ft.grad(lambda x: ft.with_gradient(x, _boom) * 2.0)(1.0),
    "hook_under_vmap": lambda: ft.vmap(ft.grad(lambda x: ft.with_gradient(x, _boom) * 2.0))(X),
    "remat_forward": lambda: ft.grad(ft.remat(lambda x: _boom() + x))(1.0),
    "remat_recompute": lambda: ft.grad(ft.remat(_fails_second_time()))(1.0),
    "pullback": lambda: ft.vjp(lambda x: ft.with_gradient(x, _boom), 1.0)[1](1.0),
    "inside_jacfwd_of_jacrev": lambda: ft.jacfwd(ft.jacrev(lambda x: _boom() + x))(X),
    "inside_vmap_of_vmap": lambda: ft.vmap(ft.vmap(lambda x: _boom() + x))(np.ones((2, 2))),
}


def _fails_second_time():
    calls = []

    def f(x):
        calls.append(1)
        if len(calls) == 2:            # the rematerialisation during the backward pass
            raise Boom("recompute")
        return fnp.sin(x)
    return f


@pytest.mark.parametrize("where", sorted(FAULTS))
def test_fault_leaves_no_interpreter(where):
    for _ in range(3):
        with pytest.raises(Boom):
            FAULTS[where]()
        assert_no_interpreter()
    close(ft.grad(ft.grad(lambda x: fnp.sin(x) * x))(0.5), 2 * np.cos(0.5) - 0.5 * np.sin(0.5))
    close(ft.vmap(ft.grad(fnp.sin))(X), np.cos(X))


@pytest.mark.parametrize("where", ["user_function", "custom_vjp_bwd", "hook", "remat_recompute"])
def test_fault_inside_an_outer_transform_restores_its_state(where):
    """Caught inside an enclosing transform: the enclosing one carries on correctly."""
    def outer(x):
        trace = core.current_trace()
        active = core._active
        try:
            FAULTS[where]()
        except Boom:
            pass
        assert core.current_trace() is trace and core._active == active
        return fnp.sin(x) * x
    close(ft.grad(outer)(0.5), np.cos(0.5) * 0.5 + np.sin(0.5))
    close(ft.vmap(outer)(X), np.sin(X) * X)
    assert_no_interpreter()


def test_pullback_called_many_times_with_different_cotangents():
    x = np.array([0.5, -1.0, 2.0])
    out, pullback = ft.vjp(lambda x, y: (fnp.sin(x) * y, fnp.sum(x ** 2)), x, 3.0)
    for k in range(5):
        ct0, ct1 = np.array([1.0, k, -k]), float(k) - 2.0
        gx, gy = pullback((ct0, ct1))
        close(gx, ct0 * np.cos(x) * 3.0 + ct1 * 2 * x, rtol=1e-14)
        close(gy, np.sum(ct0 * np.sin(x)), rtol=1e-14)
    # under other transforms too: vmapped (a Jacobian) and differentiated
    close(ft.vmap(lambda c: pullback((c, 0.0))[0])(np.eye(3)), np.diag(3 * np.cos(x)), rtol=1e-14)
    close(ft.grad(lambda c: fnp.sum(pullback((c, 1.0))[0]))(np.ones(3)), 3 * np.cos(x), rtol=1e-14)


@pytest.mark.parametrize("wrap", ["custom_vjp", "custom_jvp", "remat", "with_gradient", "vmap_inside"])
def test_pullback_through_rules_called_many_times(wrap):
    """The tape of a custom rule, a remat call or a hook is not consumed by a first call."""
    if wrap == "custom_vjp":
        g = _custom_vjp()
    elif wrap == "custom_jvp":
        g = _custom_jvp(lambda p, t: (fnp.sin(p[0]), t[0] * fnp.cos(p[0])))
    elif wrap == "remat":
        g = ft.remat(fnp.sin)
    elif wrap == "with_gradient":
        g = lambda x: fnp.sin(ft.with_gradient(x, lambda ct: None))
    else:
        g = lambda x: ft.vmap(fnp.sin)(x)
    _, pullback = ft.vjp(lambda x: g(x) * x, X)
    for k in (1.0, -2.0, 0.5, 3.0):
        close(pullback(np.full(3, k))[0], k * (np.cos(X) * X + np.sin(X)), rtol=1e-14)


def test_pullback_after_the_function_and_inputs_are_gone():
    def make():
        x = np.array([0.5, 1.5])
        return ft.vjp(lambda x: fnp.exp(x) * fnp.sum(x), x)[1]
    pullback = make()
    gc.collect()
    x = np.array([0.5, 1.5])
    want = np.exp(x) * np.sum(x) + np.sum(np.exp(x))
    close(pullback(np.ones(2))[0], want, rtol=1e-14)
    close(pullback(np.ones(2))[0], want, rtol=1e-14)


def test_pullback_error_after_a_failed_call_still_works():
    out, pullback = ft.vjp(lambda x: fnp.sin(x) * 2.0, X)
    with pytest.raises(ValueError, match="cotangent"):
        pullback(np.ones(4))
    assert_no_interpreter()
    close(pullback(np.ones(3))[0], 2 * np.cos(X), rtol=1e-14)


def test_failing_hook_does_not_corrupt_the_pullback():
    calls = []

    def hook(g):
        calls.append(1)
        if len(calls) == 1:
            raise Boom("first")
        return None
    _, pullback = ft.vjp(lambda x: fnp.sin(ft.with_gradient(x, hook)), X)
    with pytest.raises(Boom):
        pullback(np.ones(3))
    close(pullback(np.ones(3))[0], np.cos(X), rtol=1e-14)
    close(pullback(2 * np.ones(3))[0], 2 * np.cos(X), rtol=1e-14)


# ---------------------------------------------------------------------------------------
# NaN and inf.

def _derivs(f, x):
    x = np.asarray(x, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = ft.grad(lambda x: fnp.sum(f(x)))(x)
        t = ft.jvp(lambda x: fnp.sum(f(x)), (x,), (np.ones_like(x),))[1]
        v = ft.vmap(ft.grad(lambda x: fnp.sum(f(x))))(x[None])[0]
    return np.asarray(g), np.asarray(t), np.asarray(v)


INF, NAN = np.inf, np.nan


@pytest.mark.parametrize("name,f,x,grad", [
    ("log at 0", fnp.log, 0.0, INF),
    ("sqrt at 0 (API.md)", fnp.sqrt, 0.0, INF),
    ("x**0.5 at 0", lambda x: x ** 0.5, 0.0, INF),
    ("1/x at 0", lambda x: 1.0 / x, 0.0, -INF),
    ("exp overflows", fnp.exp, 1000.0, INF),
    ("log at inf", fnp.log, INF, 0.0),
    ("tanh at inf", fnp.tanh, INF, 0.0),
    ("x*inf", lambda x: x * INF, 1.0, INF),
    ("sin at nan", fnp.sin, NAN, NAN),
    ("x**2 at nan", lambda x: x ** 2, NAN, NAN),
    ("abs at nan", fnp.abs, NAN, NAN),
    ("maximum(x, 0) at nan", lambda x: fnp.maximum(x, 0.0), NAN, NAN),
    ("maximum(0, x) at nan", lambda x: fnp.maximum(0.0, x), NAN, NAN),
    ("minimum(x, 0) at nan", lambda x: fnp.minimum(x, 0.0), NAN, NAN),
    ("relu at nan", ft.nn.relu, NAN, NAN),
    ("maximum at inf", lambda x: fnp.maximum(x, 0.0), INF, 1.0),
    ("maximum at -inf", lambda x: fnp.maximum(x, 0.0), -INF, 0.0),
    ("relu at inf", ft.nn.relu, INF, 1.0),
    ("where picks the nan branch", lambda x: fnp.where(x > 0, x, x * fnp.sin(x)), NAN, NAN),
    ("sqrt(x**2) at 0: 0 * inf", lambda x: fnp.sqrt(x ** 2), 0.0, NAN),
])
def test_ieee_special_values(name, f, x, grad):
    for d in _derivs(f, x):
        np.testing.assert_array_equal(d, np.float64(grad), err_msg=name)


def test_nan_in_reductions_is_not_a_silent_zero():
    x = np.array([1.0, NAN, 2.0])
    for f in (fnp.max, fnp.min, fnp.prod, fnp.var, lambda x: fnp.linalg.norm(x)):
        g, t, v = _derivs(f, x)
        assert np.isnan(t), f
        assert np.isnan(g).any(), f
    # a linear reduction's derivative does not depend on the values: NaN in, exact gradient out
    np.testing.assert_array_equal(_derivs(fnp.mean, x)[0], np.full(3, 1 / 3))
    np.testing.assert_array_equal(_derivs(fnp.sum, x)[1], 3.0)


def test_convention_zeros_stay_zeros():
    """The only zeros at singular points are API.md's: |x|' and relu' at 0, the norm at 0,
    d/dy x**y at x = 0."""
    for f, x in ((fnp.abs, 0.0), (ft.nn.relu, 0.0), (lambda v: fnp.linalg.norm(v), np.zeros(3))):
        for d in _derivs(f, x):
            np.testing.assert_array_equal(d, np.zeros_like(d))
    np.testing.assert_array_equal(ft.grad(lambda y: 0.0 ** y, argnums=0)(2.0), 0.0)


def test_nan_cotangent_propagates():
    _, pullback = ft.vjp(lambda x: fnp.sin(x) * x, X)
    ct = np.array([1.0, NAN, INF])
    got = pullback(ct)[0]
    want = ct * (np.cos(X) * X + np.sin(X))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    close(got[0], want[0], rtol=1e-14)
    assert got[2] == want[2]


# ---------------------------------------------------------------------------------------
# Regressions: failures the property tests (tests/test_properties.py) and the tests above found.

def test_regression_hypot_at_origin_has_the_norms_zero_derivative():
    """Found by test_random_programs: hypot(x - x, x - x) had derivative NaN (sqrt'(0) * 0),
    though it is constant; like the 2-norm at 0 (API.md) its derivative there is 0."""
    for d in _derivs(lambda x: fnp.hypot(x, x), 0.0):
        np.testing.assert_array_equal(d, 0.0)
    np.testing.assert_array_equal(ft.grad(lambda x: fnp.hypot(x - x, x - x) + 0.5)(0.3), 0.0)
    ft.check_grads(lambda x: fnp.hypot(x, 0.5 * x + 1.0), (np.array([0.0, -2.0, 1e-3]),), order=3)


def test_regression_hypot_does_not_overflow():
    """Found while fixing the above: hypot was sqrt(x*x + y*y), inf for |x| > 1e154."""
    for x, y in ((1e200, 1e200), (3e-200, 4e-200), (np.float32(3e20), np.float32(4e20))):
        got = fnp.hypot(x, y)
        np.testing.assert_allclose(got, np.hypot(x, y), rtol=1e-6)
        assert np.asarray(got).dtype == np.hypot(x, y).dtype
    close(ft.grad(fnp.hypot, argnums=(0, 1))(3e200, 4e200), (0.6, 0.8), rtol=1e-14)
    assert np.asarray(fnp.hypot(np.float32(3.0), 4.0)).dtype == np.float32


def test_regression_nan_through_maximum_is_not_a_silent_zero():
    """maximum/minimum/relu gave derivative 0 at a NaN argument (a mask of comparisons, all
    False); now NaN. Ties still split (API.md) and the other argument still gets 0."""
    g = ft.grad(lambda x, y: fnp.maximum(x, y), argnums=(0, 1))
    for (x, y), want in [((NAN, 1.0), (NAN, 0.0)), ((1.0, NAN), (0.0, NAN)), ((1.0, 1.0), (0.5, 0.5)),
                         ((2.0, 1.0), (1.0, 0.0))]:
        np.testing.assert_array_equal(g(x, y), want)
    x = np.array([NAN, -1.0, 0.0, 2.0], np.float32)
    got = ft.grad(lambda x: fnp.sum(ft.nn.relu(x)))(x)
    np.testing.assert_array_equal(got, np.array([NAN, 0.0, 0.0, 1.0], np.float32))
    assert got.dtype == np.float32


def test_regression_tracer_of_another_thread_raised_recursion_error():
    """A tracer handed to another thread's transform recursed forever (it was neither that
    transform's nor dead); now LeakedTracerError (see test_tracer_of_another_thread_is_refused)."""
    result = _hand_over(lambda t: ft.grad(lambda y: y * fnp.sin(t))(2.0))
    assert isinstance(result["b_error"], LeakedTracerError)


def test_regression_reshape_order_f_under_transforms():
    """Found while cataloguing errors: fnp.reshape(order="F") worked on arrays but raised on
    traced values; now it is Fortran order under every transform too."""
    x = np.arange(6.0)
    w = np.arange(6.0).reshape(3, 2) + 1.0
    f = lambda x: fnp.sum(fnp.reshape(x, (3, 2), order="F") * w)
    np.testing.assert_array_equal(f(x), np.sum(np.reshape(x, (3, 2), order="F") * w))
    np.testing.assert_array_equal(ft.grad(f)(x), np.reshape(w, 6, order="F"))
    xs = np.stack([x, 2 * x])
    np.testing.assert_array_equal(ft.vmap(lambda v: fnp.reshape(v, (3, 2), order="F"))(xs),
                                  np.stack([np.reshape(v, (3, 2), order="F") for v in xs]))
    ft.check_grads(lambda x: fnp.reshape(x, (2, 3), order="F") ** 2, (x,), order=2)
