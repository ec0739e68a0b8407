"""Pytrees: nested containers whose leaves are arrays.

Transforms work on flat lists of arrays; this module converts between a user's nested
arguments (tuples, lists, dicts, NamedTuples, dataclasses, registered classes) and those flat
lists. A :class:`PyTreeDef` records the structure, so it can be compared and rebuilt.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any, Callable, Hashable, Iterable, NamedTuple, cast

from numpy import ndarray

__all__ = ["flatten", "unflatten", "map", "leaves", "structure", "register", "PyTreeDef",
           "all_leaves", "flatten_as", "flatten_up_to", "broadcast_prefix"]

_builtin_map = map


class _NodeType(NamedTuple):
    flatten: Callable[[Any], tuple[Iterable[Any], Hashable]]
    unflatten: Callable[[Any, list], Any]     # receives the aux that flatten returned


_registry: dict[type, _NodeType] = {}
_leaf_types: set = set()     # types seen to be leaves (arrays, numbers, tracers, ...)


def register(cls: type, flatten: Callable[[Any], tuple[Iterable[Any], Hashable]],
             unflatten: Callable[[Any, list], Any]) -> type:
    """Make ``cls`` a container: ``flatten(obj) -> (children, aux)``, ``unflatten(aux, children)``.

    Example:
        >>> import functrans as ft
        >>> class Pair:
        ...     def __init__(self, a, b): self.a, self.b = a, b
        >>> _ = ft.tree.register(Pair, lambda p: ((p.a, p.b), None), lambda aux, ch: Pair(*ch))
        >>> ft.tree.leaves(Pair(1.0, [2.0, 3.0]))
        [1.0, 2.0, 3.0]
    """
    _registry[cls] = _NodeType(flatten, unflatten)
    _leaf_types.discard(cls)
    return cls


def _dict_flatten(d: dict) -> tuple[list, tuple]:
    keys = sorted(d)
    return [d[k] for k in keys], tuple(keys)


register(tuple, lambda t: (t, None), lambda _, ch: tuple(ch))
register(list, lambda t: (t, None), lambda _, ch: list(ch))
register(dict, _dict_flatten, lambda keys, ch: dict(zip(keys, ch)))
# As in JAX: an OrderedDict keeps its insertion order, a defaultdict its default_factory.
register(collections.OrderedDict, lambda d: (list(d.values()), tuple(d)),
         lambda keys, ch: collections.OrderedDict(zip(keys, ch)))
register(collections.defaultdict, lambda d: (_dict_flatten(d)[0], (d.default_factory, tuple(sorted(d)))),
         lambda aux, ch: collections.defaultdict(aux[0], zip(aux[1], ch)))
register(type(None), lambda _: ((), None), lambda _, __: None)


def _node_type(x: Any) -> _NodeType | None:
    cls = type(x)
    node = _registry.get(cls)
    if node is not None or cls in _leaf_types:
        return node
    if isinstance(x, tuple) and hasattr(cls, "_fields"):          # NamedTuple
        node = _NodeType(lambda t: (tuple(t), None), lambda _, ch: cls(*ch))
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        names = tuple(f.name for f in dataclasses.fields(x))
        node = _NodeType(lambda obj: ([getattr(obj, n) for n in names], None),
                         lambda _, ch: _new_dataclass(cls, names, ch))
    else:
        if cls is not type:      # classes themselves may become dataclasses later
            _leaf_types.add(cls)
        return None
    _registry[cls] = node
    return node


def _new_dataclass(cls: type, names: tuple, children: list) -> Any:
    obj: Any = object.__new__(cls)
    for name, child in zip(names, children):
        object.__setattr__(obj, name, child)
    return obj


class PyTreeDef:
    """The structure of a pytree: its containers and where the leaves go (``*``).

    Hashable and comparable: two trees with equal structures have equal treedefs.

    Example:
        >>> import functrans as ft
        >>> treedef = ft.tree.structure({"a": 1.0, "b": (2.0, 3.0)})
        >>> treedef, treedef.num_leaves, treedef == ft.tree.structure({"a": 0, "b": (0, 0)})
        ({'a': *, 'b': (*, *)}, 3, True)
    """

    __slots__ = ("node", "aux", "children", "num_leaves", "leafy", "_hash")

    def __init__(self, node: type | None, aux: Any, children: tuple, num_leaves: int, leafy: bool):
        self.node = node                     # None marks a leaf
        self.aux = aux
        self.children = children
        self.num_leaves = num_leaves
        self.leafy = leafy                   # a container of leaves only: unflatten slices them
        self._hash: int | None = None

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """``ft.tree.unflatten(self, leaves)``, as JAX's ``treedef.unflatten``."""
        return unflatten(self, leaves)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, PyTreeDef) and self.node is other.node
                and self.aux == other.aux and self.children == other.children)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.node, _hashable(self.aux), self.children))
        return self._hash

    def __repr__(self) -> str:
        if self.node is None:
            return "*"
        inner = ", ".join(repr(c) for c in self.children)
        if self.node is tuple:
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        if self.node is list:
            return f"[{inner}]"
        if self.node is dict:
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.aux, self.children)) + "}"
        if self.node is collections.OrderedDict:
            inner = ", ".join(f"({k!r}, {c!r})" for k, c in zip(self.aux, self.children))
            return f"OrderedDict([{inner}])"
        if self.node is type(None):
            return "None"
        return f"{self.node.__name__}({inner})"


def _hashable(aux: Any) -> Any:
    try:
        hash(aux)
        return aux
    except TypeError:
        return repr(aux)


LEAF = PyTreeDef(None, None, (), 1, False)
_leafy_defs: dict[tuple[type, int], PyTreeDef] = {}     # treedefs are immutable: shared


def flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, PyTreeDef]:
    """Split a pytree into its leaves (left to right; dicts by sorted key) and its structure.

    Example:
        >>> import functrans as ft
        >>> leaves, treedef = ft.tree.flatten({"b": 2.0, "a": (1.0, None)})
        >>> leaves
        [1.0, 2.0]
        >>> ft.tree.unflatten(treedef, [10.0, 20.0])
        {'a': (10.0, None), 'b': 20.0}
    """
    leaves: list = []
    return leaves, _flatten(tree, leaves, is_leaf)


def _flatten(x: Any, leaves: list, is_leaf: Callable[[Any], bool] | None) -> PyTreeDef:
    cls = type(x)
    if is_leaf is None:      # every transform call flattens: arrays and plain containers first
        if cls is ndarray:
            leaves.append(x)
            return LEAF
        if cls is tuple or cls is list:
            start = len(leaves)
            defs = []
            leafy = True
            for c in x:
                child_cls = type(c)
                if child_cls is ndarray:
                    leaves.append(c)
                    defs.append(LEAF)
                    continue
                if child_cls is tuple or child_cls is list:   # of arrays (a layer's (w, b)):
                    for y in c:                               # without recursion
                        if type(y) is not ndarray:
                            break
                    else:
                        leaves += c
                        defs.append(_leafy_defs.get((child_cls, len(c)))
                                    or _leafy_def(child_cls, len(c)))
                        leafy = False
                        continue
                d = _flatten(c, leaves, None)
                if d.node is not None:
                    leafy = False
                defs.append(d)
            if leafy:       # tuples and lists of arrays (parameter pairs) share one treedef
                return _leafy_defs.get((cls, len(defs))) or _leafy_def(cls, len(defs))
            return PyTreeDef(cls, None, tuple(defs), len(leaves) - start, leafy)
    node = None if is_leaf is not None and is_leaf(x) else _node_type(x)
    if node is None:
        leaves.append(x)
        return LEAF
    start = len(leaves)
    children, aux = node.flatten(x)
    defs = []       # a loop, not a comprehension: that would make leaves a cell in every call
    leafy = True
    for c in children:
        d = _flatten(c, leaves, is_leaf)
        if d.node is not None:
            leafy = False
        defs.append(d)
    return PyTreeDef(cls, aux, tuple(defs), len(leaves) - start, leafy)


def _leafy_def(cls: type, n: int) -> PyTreeDef:
    """The shared treedef of a tuple or list of ``n`` leaves."""
    treedef = _leafy_defs.get((cls, n))
    if treedef is None:
        treedef = _leafy_defs[cls, n] = PyTreeDef(cls, None, (LEAF,) * n, n, True)
    return treedef


def unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a pytree of structure ``treedef`` from ``leaves``.

    Example:
        >>> import functrans as ft
        >>> leaves, treedef = ft.tree.flatten({"a": 1, "b": (2, 3)})
        >>> ft.tree.unflatten(treedef, [10, 20, 30])
        {'a': 10, 'b': (20, 30)}
    """
    if type(leaves) is not list and type(leaves) is not tuple:
        leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(f"unflatten: the structure {treedef} has {treedef.num_leaves} leaves, "
                         f"got {len(leaves)}")
    if treedef.node is None:
        return leaves[0]
    return _unflatten(treedef, leaves, 0)


def _unflatten(treedef: PyTreeDef, leaves: list | tuple, start: int) -> Any:
    """The subtree ``treedef`` built from ``leaves[start:]``."""
    node = treedef.node
    if treedef.leafy:
        children: Any = leaves[start:start + treedef.num_leaves]
    else:
        children = []
        for c in treedef.children:
            if c.node is None:
                children.append(leaves[start])
                start += 1
            elif c.node is tuple and c.leafy:     # e.g. a layer's (w, b): without recursion
                stop = start + c.num_leaves
                children.append(tuple(leaves[start:stop]))
                start = stop
            else:
                children.append(_unflatten(c, leaves, start))
                start += c.num_leaves
    if node is tuple:
        return tuple(children)
    if type(children) is not list:      # a slice of a tuple of leaves
        children = list(children)
    if node is list:
        return children
    return _registry[cast(type, node)].unflatten(treedef.aux, children)


def leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list:
    """The leaves of ``tree`` in flattening order.

    Example:
        >>> import functrans as ft
        >>> ft.tree.leaves({"b": [2, 3], "a": 1})
        [1, 2, 3]
    """
    return flatten(tree, is_leaf)[0]


def structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """The :class:`PyTreeDef` of ``tree``.

    Example:
        >>> import functrans as ft
        >>> ft.tree.structure([1.0, (2.0, None)])
        [*, (*, None)]
    """
    return flatten(tree, is_leaf)[1]


def map(f: Callable[..., Any], tree: Any, *rest: Any,
        is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply ``f`` leafwise to ``tree`` and the trees ``rest``.

    As in JAX, each tree of ``rest`` has ``tree``'s structure or has it as a prefix: ``f``
    then receives the whole subtree found where ``tree`` has a leaf.

    Example:
        >>> import functrans as ft
        >>> ft.tree.map(lambda a, b: a + b, {"x": 1.0, "y": [2.0]}, {"x": 10.0, "y": [20.0]})
        {'x': 11.0, 'y': [22.0]}
        >>> ft.tree.map(lambda a, b: (a, b), [1, 2], [(3, 4), None])
        [(1, (3, 4)), (2, None)]
    """
    flat, treedef = flatten(tree, is_leaf)
    if treedef is LEAF and not rest:       # a single array: no structure to rebuild
        return f(tree)
    others = [flatten_up_to(treedef, r, "tree.map argument") for r in rest]
    return unflatten(treedef, [f(*xs) for xs in zip(flat, *others)])


def flatten_up_to(treedef: PyTreeDef, tree: Any, what: str) -> list:
    """The subtrees of ``tree`` where ``treedef`` has its leaves (``treedef`` is a prefix of
    ``tree``'s structure, else a clear error).

    Example:
        >>> import functrans as ft
        >>> ft.tree.flatten_up_to(ft.tree.structure((0, 0)), ((1, 2), [3]), "the argument")
        [(1, 2), [3]]
    """
    flat, other = flatten(tree)
    if other == treedef:          # the common case: the same structure
        return flat
    out: list = []

    def walk(td: PyTreeDef, x: Any) -> None:
        if td.node is None:
            out.append(x)
            return
        node = _node_type(x)
        if node is None or type(x) is not td.node:
            raise ValueError(f"{what} must have the structure {treedef} (or have it as a prefix), "
                             f"got {structure(tree)}")
        children, aux = node.flatten(x)
        children = list(children)
        if len(children) != len(td.children) or not aux == td.aux:
            raise ValueError(f"{what} must have the structure {treedef} (or have it as a prefix), "
                             f"got {structure(tree)}")
        for c, x_c in zip(td.children, children):
            walk(c, x_c)

    walk(treedef, tree)
    return out


def flatten_as(treedef: PyTreeDef, tree: Any, what: str) -> list:
    """The leaves of ``tree``, which must have the structure ``treedef`` (else a clear error).

    Example:
        >>> import functrans as ft
        >>> treedef = ft.tree.structure((1, 2))
        >>> ft.tree.flatten_as(treedef, (3, 4), "the tangents")
        [3, 4]
        >>> ft.tree.flatten_as(treedef, [3, 4], "the tangents")
        Traceback (most recent call last):
        ...
        ValueError: the tangents...
    """
    flat, other = flatten(tree)
    if other != treedef:
        raise ValueError(f"{what} must have the structure {treedef}, got {other}")
    return flat


def all_leaves(iterable: Iterable[Any]) -> bool:
    """True if every element is a leaf.

    Example:
        >>> import numpy as np, functrans as ft
        >>> ft.tree.all_leaves([1.0, np.zeros(2)]), ft.tree.all_leaves([1.0, (2.0,)])
        (True, False)
    """
    return all(_node_type(x) is None for x in iterable)


def broadcast_prefix(prefix: Any, tree: Any, what: str, of: str = "the arguments") -> list:
    """Expand ``prefix`` (a pytree prefix of ``tree``) to one entry per leaf of ``tree``.

    Leaves of the prefix (``None`` included) apply to the whole subtree below them.

    Example:
        >>> import functrans as ft
        >>> ft.tree.broadcast_prefix((0, None), ([1, 2], {"a": 3}), "in_axes")
        [0, 0, None]
    """
    out: list = []

    def walk(p: Any, t: Any) -> None:
        p_node = _node_type(p)
        if p is None or p_node is None:
            out.extend([p] * len(leaves(t)))
            return
        if type(p) is not type(t) and not (isinstance(p, (list, tuple)) and isinstance(t, (list, tuple))):
            raise ValueError(f"{what} must be a prefix of the structure of {of}: got a "
                             f"{type(p).__name__} where {of} have {structure(t)}")
        t_node = cast(_NodeType, _node_type(t))     # a container like p, checked above
        p_children, p_aux = p_node.flatten(p)
        t_children, t_aux = t_node.flatten(t)
        p_children, t_children = list(p_children), list(t_children)
        if len(p_children) != len(t_children) or (isinstance(p, dict) and p_aux != t_aux):
            raise ValueError(f"{what} must be a prefix of the structure of {of}: got "
                             f"{structure(p)} for {of} of structure {structure(t)}")
        for pc, tc in zip(p_children, t_children):
            walk(pc, tc)

    walk(prefix, tree)
    return out
