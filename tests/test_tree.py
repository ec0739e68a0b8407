"""Pytrees (ft.tree): flatten / unflatten / map / leaves / structure / register, JAX-style."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import tree


class Point(NamedTuple):
    x: float
    y: float


@dataclasses.dataclass
class Layer:
    kernel: np.ndarray
    bias: np.ndarray


@dataclasses.dataclass(frozen=True)
class Frozen:
    a: float
    b: tuple


def test_flatten_basic_containers():
    leaves, treedef = tree.flatten((1.0, [2.0, 3.0], {"a": 4.0}))
    assert leaves == [1.0, 2.0, 3.0, 4.0]
    rebuilt = tree.unflatten(treedef, leaves)
    assert rebuilt == (1.0, [2.0, 3.0], {"a": 4.0})
    assert type(rebuilt[1]) is list and type(rebuilt) is tuple


def test_dict_leaves_in_sorted_key_order():
    d = {"c": 3.0, "a": 1.0, "b": 2.0}
    assert tree.leaves(d) == [1.0, 2.0, 3.0]
    leaves, treedef = tree.flatten(d)
    out = tree.unflatten(treedef, [10.0, 20.0, 30.0])
    assert out == {"a": 10.0, "b": 20.0, "c": 30.0}
    # insertion order does not matter for the structure
    assert tree.structure({"a": 0, "b": 0}) == tree.structure({"b": 0, "a": 0})
    nested = {"z": {"y": 1.0, "x": 2.0}, "a": [3.0]}
    assert tree.leaves(nested) == [3.0, 2.0, 1.0]


def test_none_is_an_empty_container():
    assert tree.leaves(None) == []
    assert tree.leaves((None, 1.0, [None])) == [1.0]
    leaves, treedef = tree.flatten({"a": None, "b": 2.0})
    assert leaves == [2.0]
    assert tree.unflatten(treedef, [5.0]) == {"a": None, "b": 5.0}
    assert tree.map(lambda x: x * 2, (None, 3.0)) == (None, 6.0)
    assert tree.structure(None) != tree.structure(())


def test_numbers_and_arrays_are_leaves():
    a = np.arange(3.0)
    leaves = tree.leaves([1, 2.5, a, np.float32(1.0), True])
    assert len(leaves) == 5
    assert leaves[2] is a
    assert tree.leaves(a)[0] is a
    leaves, treedef = tree.flatten(3.0)
    assert leaves == [3.0] and tree.unflatten(treedef, [4.0]) == 4.0


def test_namedtuple():
    p = Point(1.0, 2.0)
    leaves, treedef = tree.flatten(p)
    assert leaves == [1.0, 2.0]
    out = tree.unflatten(treedef, [3.0, 4.0])
    assert isinstance(out, Point) and out == Point(3.0, 4.0)
    assert tree.structure(p) != tree.structure((1.0, 2.0))
    assert tree.map(lambda v: v + 1, p) == Point(2.0, 3.0)


def test_dataclass():
    layer = Layer(np.ones((2, 3)), np.zeros(3))
    leaves, treedef = tree.flatten(layer)
    assert len(leaves) == 2 and leaves[0] is layer.kernel and leaves[1] is layer.bias
    out = tree.unflatten(treedef, [np.full((2, 3), 2.0), np.full(3, 5.0)])
    assert isinstance(out, Layer)
    np.testing.assert_array_equal(out.kernel, np.full((2, 3), 2.0))
    np.testing.assert_array_equal(out.bias, np.full(3, 5.0))
    doubled = tree.map(lambda v: 2 * v, layer)
    assert isinstance(doubled, Layer)
    np.testing.assert_array_equal(doubled.kernel, 2 * np.ones((2, 3)))


def test_frozen_dataclass_rebuilds():
    f = Frozen(1.0, (2.0, 3.0))
    assert tree.leaves(f) == [1.0, 2.0, 3.0]
    out = tree.map(lambda v: -v, f)
    assert isinstance(out, Frozen) and out == Frozen(-1.0, (-2.0, -3.0))


def test_map_multiple_trees_and_structure_mismatch():
    a = {"x": 1.0, "y": [2.0, 3.0]}
    b = {"x": 10.0, "y": [20.0, 30.0]}
    assert tree.map(lambda u, v: u + v, a, b) == {"x": 11.0, "y": [22.0, 33.0]}
    assert tree.map(lambda u, v, w: u * v * w, (1.0, 2.0), (3.0, 4.0), (5.0, 6.0)) == (15.0, 48.0)
    with pytest.raises(ValueError):
        tree.map(lambda u, v: u + v, a, {"x": 1.0, "y": [2.0]})
    with pytest.raises(ValueError):
        tree.map(lambda u, v: u + v, (1.0, 2.0), [1.0, 2.0])


def test_leaves_and_structure_consistent_with_flatten():
    t = [Point(1.0, {"b": 2.0, "a": 3.0}), (4.0,), None]
    leaves, treedef = tree.flatten(t)
    assert tree.leaves(t) == leaves == [1.0, 3.0, 2.0, 4.0]
    assert tree.structure(t) == treedef
    assert hash(tree.structure(t)) == hash(treedef)
    assert tree.unflatten(treedef, leaves) == t


def test_structure_equality():
    assert tree.structure((1, 2)) == tree.structure((3.0, np.ones(2)))
    assert tree.structure((1, 2)) != tree.structure([1, 2])
    assert tree.structure((1, 2)) != tree.structure((1, (2,)))
    assert tree.structure({"a": 1}) != tree.structure({"b": 1})


def test_unflatten_wrong_number_of_leaves():
    treedef = tree.structure((1.0, [2.0, 3.0]))
    with pytest.raises(ValueError, match="3"):
        tree.unflatten(treedef, [1.0, 2.0])


def test_is_leaf():
    t = {"a": (1.0, 2.0), "b": [3.0]}
    leaves = tree.leaves(t, is_leaf=lambda x: isinstance(x, tuple))
    assert leaves == [(1.0, 2.0), 3.0]


# ---------------------------------------------------------------------------------------
# register (JAX signatures: flatten(obj) -> (children, aux); unflatten(aux, children) -> obj)

class Affine:
    def __init__(self, w, b, name):
        self.w, self.b, self.name = w, b, name


def _affine_flatten(a):
    return (a.w, a.b), a.name


def _affine_unflatten(aux, children):
    w, b = children
    return Affine(w, b, aux)


tree.register(Affine, _affine_flatten, _affine_unflatten)


def test_register_custom_class():
    a = Affine(np.ones(2), 0.5, "layer0")
    leaves, treedef = tree.flatten(a)
    assert len(leaves) == 2 and leaves[1] == 0.5
    out = tree.unflatten(treedef, [np.zeros(2), 1.5])
    assert isinstance(out, Affine) and out.name == "layer0" and out.b == 1.5
    # aux is part of the structure
    assert tree.structure(Affine(1.0, 2.0, "x")) != tree.structure(Affine(1.0, 2.0, "y"))
    assert tree.structure(Affine(1.0, 2.0, "x")) == tree.structure(Affine(3.0, 4.0, "x"))
    m = tree.map(lambda v: v * 2, a)
    assert isinstance(m, Affine) and m.name == "layer0" and m.b == 1.0


def test_register_nested_children_and_grad():
    a = Affine({"p": np.array([1.0, 2.0])}, [3.0], "n")
    assert len(tree.leaves(a)) == 2

    def loss(m):
        return fnp.sum(m.w["p"] ** 2) * m.b[0]

    g = ft.grad(loss)(a)
    assert isinstance(g, Affine) and g.name == "n"
    np.testing.assert_allclose(g.w["p"], 2 * np.array([1.0, 2.0]) * 3.0)
    np.testing.assert_allclose(g.b[0], 5.0)


def test_register_returns_class_and_works_as_decorator_style():
    class Box:
        def __init__(self, v):
            self.v = v
    assert tree.register(Box, lambda b: ((b.v,), None), lambda aux, ch: Box(ch[0])) is Box
    out = tree.map(lambda x: x + 1, [Box(1.0), Box(2.0)])
    assert [b.v for b in out] == [2.0, 3.0]


def test_transforms_preserve_tree_types():
    p = {"layer": Layer(np.ones((2, 2)), np.zeros(2)), "pt": Point(1.0, 2.0), "none": None}

    def loss(p):
        return (fnp.sum(p["layer"].kernel) + fnp.sum(p["layer"].bias) * p["pt"].x
                + p["pt"].y ** 2)

    g = ft.grad(loss)(p)
    assert isinstance(g["layer"], Layer) and isinstance(g["pt"], Point) and g["none"] is None
    np.testing.assert_allclose(g["layer"].kernel, np.ones((2, 2)))
    np.testing.assert_allclose(g["layer"].bias, np.ones(2))
    np.testing.assert_allclose(g["pt"].x, 0.0)
    np.testing.assert_allclose(g["pt"].y, 4.0)
    # vmap over a pytree with a pytree-prefix in_axes
    batch = {"layer": Layer(np.ones((3, 2, 2)), np.zeros((3, 2))), "pt": Point(np.arange(3.0), 1.0)}
    out = ft.vmap(lambda q: fnp.sum(q["layer"].kernel) * q["pt"].x + q["pt"].y,
                  in_axes=({"layer": 0, "pt": Point(0, None)},))(batch)
    np.testing.assert_allclose(out, 4.0 * np.arange(3.0) + 1.0)


def test_map_rest_may_have_tree_as_prefix():
    # JAX: each tree of `rest` has tree's structure or has it as a prefix; f gets the subtree
    assert tree.map(lambda a, b: (a, b), [1, 2], [(3, 4), 5]) == [(1, (3, 4)), (2, 5)]
    assert tree.map(lambda a, b: b, [1], [None]) == [None]
    assert tree.map(lambda a, b: (a, b), [1, None], [(3, 4), None]) == [(1, (3, 4)), None]
    with pytest.raises(ValueError, match=r"must have the structure \[\*, \*\].*got \[\*\]"):
        tree.map(lambda a, b: a + b, [1, 2], [1])
    with pytest.raises(ValueError, match="got {'y': \\*}"):
        tree.map(lambda a, b: a + b, {"x": 1}, {"y": 2})


def test_ordereddict_and_defaultdict_are_containers():
    import collections
    od = collections.OrderedDict([("b", 1.0), ("a", 2.0)])
    assert tree.leaves(od) == [1.0, 2.0]                  # insertion order, as in JAX
    out = tree.map(lambda v: v * 10, od)
    assert type(out) is collections.OrderedDict and list(out.items()) == [("b", 10.0), ("a", 20.0)]
    g = ft.grad(lambda d: d["b"] ** 2 * d["a"])(od)
    assert list(g) == ["b", "a"] and float(g["b"]) == 4.0 and float(g["a"]) == 1.0
    dd = collections.defaultdict(list, {"b": 1.0, "a": 2.0})
    assert tree.leaves(dd) == [2.0, 1.0]                  # sorted keys, like dict
    out = tree.map(lambda v: v + 1, dd)
    assert type(out) is collections.defaultdict and out.default_factory is list
    assert dict(out) == {"a": 3.0, "b": 2.0}
    assert tree.structure(dd) != tree.structure({"a": 0, "b": 0})


def test_treedef_unflatten_method():
    treedef = tree.structure({"a": 1, "b": (2, 3)})
    assert treedef.unflatten([4, 5, 6]) == {"a": 4, "b": (5, 6)}
