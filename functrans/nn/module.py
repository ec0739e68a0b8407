"""``Module``: a pytree base class for layers and models (Equinox's idea).

A subclass declares its fields with annotations and becomes a dataclass when it is defined.
Which fields are pytree children is decided by value: arrays (and traced values), Modules,
and lists/tuples/dicts holding any of them are children; everything else (activation
functions, sizes, flags, strides) is static and travels in the treedef. So
``grad(loss)(model)`` returns a model of the same class whose arrays are the gradients,
ready for an optimizer.

An instance rebuilt by ``unflatten`` remembers which fields were children, so a tree of
anything (``None``s, ints for ``vmap``'s ``in_axes``) mapped over a model flattens like the
model it came from.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from typing_extensions import dataclass_transform

from .. import tree
from ..core import Tracer

__all__ = ["Module", "is_array"]

_CHILDREN = "_ft_children"


def is_array(x: Any) -> bool:
    """True for the values a Module treats as parameters: arrays and traced values.

    Example:
        >>> import numpy as np, functrans as ft
        >>> [ft.nn.is_array(v) for v in (np.zeros(2), np.float32(1), 1.0, "relu")]
        [True, True, False, False]
    """
    return isinstance(x, (np.ndarray, Tracer)) or (
        isinstance(x, np.generic) and not isinstance(x, (np.str_, np.bytes_, np.object_)))


def _is_child(value: Any) -> bool:
    if is_array(value) or isinstance(value, Module):
        return True
    if isinstance(value, (list, tuple)):
        return any(_is_child(v) for v in value)
    if isinstance(value, dict):
        return any(_is_child(v) for v in value.values())
    return False


@dataclass_transform(eq_default=False)     # subclasses become dataclasses in __init_subclass__
class Module:
    """Base class of layers: a dataclass and a pytree whose children are its arrays.

    Example:
        >>> import numpy as np, functrans as ft, functrans.numpy as fnp
        >>> class Affine(ft.nn.Module):
        ...     a: np.ndarray
        ...     b: np.ndarray
        ...     name: str = "affine"           # not an array: static
        ...     def __call__(self, x):
        ...         return self.a * x + self.b
        >>> m = Affine(np.array(2.0), np.array(1.0))
        >>> g = ft.grad(lambda m: m(3.0))(m)
        >>> type(g).__name__, float(g.a), float(g.b), g.name
        ('Affine', 3.0, 1.0, 'affine')
    """

    _ft_custom_init = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        custom_init = "__init__" in cls.__dict__ or any(
            getattr(base, "_ft_custom_init", False) for base in cls.__mro__[1:])
        cls._ft_custom_init = custom_init
        dataclasses.dataclass(cls, init=not custom_init, repr=False,
                              eq=False)
        names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]  # a dataclass now
        tree.register(cls, lambda m: _flatten(m, names),
                      lambda aux, children: _unflatten(cls, aux, children))

    def __repr__(self) -> str:  # dataclass reprs of big arrays are unreadable: show shapes
        parts = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]  # every subclass is a dataclass
            v: Any = getattr(self, f.name, None)
            if is_array(v):
                v = f"{type(v).__name__}{tuple(np.shape(v)) if not isinstance(v, Tracer) else v.shape}"
            else:
                v = repr(v)
            parts.append(f"{f.name}={v}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _flatten(module: Module, names: tuple) -> tuple[list, tuple]:
    child_names = module.__dict__.get(_CHILDREN)     # remembered by _unflatten
    if child_names is None:
        child_names = tuple(n for n in names if _is_child(getattr(module, n)))
    return ([getattr(module, n) for n in child_names],
            (child_names, tuple((n, getattr(module, n)) for n in names if n not in child_names)))


def _unflatten(cls: type, aux: tuple, children: list) -> Module:
    child_names, static = aux
    obj: Module = object.__new__(cls)
    for name, value in zip(child_names, children):
        object.__setattr__(obj, name, value)
    for name, value in static:
        object.__setattr__(obj, name, value)
    object.__setattr__(obj, _CHILDREN, child_names)
    return obj
