"""The 2-D convolution primitive: NHWC images, HWIO filters, cross-correlation.

``conv2d_p`` is the general dilated, padded, strided, grouped correlation (XLA's
``conv_general_dilated`` restricted to two spatial dimensions and one layout), because the
transposes of a strided convolution need the other options: the input cotangent is a
convolution of the cotangent dilated by the strides with the flipped filter, the filter
cotangent a convolution whose "filter" is the cotangent dilated by the strides. Being closed
under transposition, every derivative is again ``conv2d_p`` and can be differentiated again.
Feature groups make batching exact: a batch of filters becomes a batch of groups.

The implementation is im2col: a strided window view (no copy) gathered into one matrix and
multiplied by the filter with one BLAS call (one batched call for grouped convolutions).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from .. import primitives as P
from ..batching import batch_rules
from ..core import Primitive, add_any, shape_of
from ..forward import jvp_rules
from ..reverse import defvjp

__all__ = ["conv2d", "conv2d_p", "conv_padding"]


def _dilate(n: int, d: int) -> int:
    return 0 if n == 0 else 1 + d * (n - 1)


def _out_size(n: int, k: int, stride: int, pad: tuple, lhs_dil: int, rhs_dil: int) -> int:
    padded = _dilate(n, lhs_dil) + pad[0] + pad[1]
    k = _dilate(k, rhs_dil)
    return 0 if padded < k else (padded - k) // stride + 1


def _conv_impl(x: Any, w: Any, *, strides: tuple, padding: tuple, lhs_dilation: tuple,
               rhs_dilation: tuple, groups: int) -> Any:
    x = np.asarray(x)
    w = np.asarray(w)
    dtype = np.result_type(x, w)
    n, h, wd, c = x.shape
    kh, kw, cin, cout = w.shape
    if c != cin * groups or cout % groups:
        raise ValueError(f"conv2d: images with {c} channels and filters of shape {w.shape} "
                         f"do not fit {groups} feature group(s)")
    dh, dw = lhs_dilation
    (pt, pb), (pl, pr) = padding
    rh, rw = rhs_dilation
    sh, sw = strides
    ho = _out_size(h, kh, sh, (pt, pb), dh, rh)
    wo = _out_size(wd, kw, sw, (pl, pr), dw, rw)
    if ho == 0 or wo == 0 or n == 0 or kh * kw * cin == 0:
        return np.zeros((n, ho, wo, cout), dtype)
    if (sh, sw) == (1, 1) and groups == 1 and h * wd * cout < ho * wo * cin:
        if (dh, dw, rw) == (1, 1, 1):
            return _conv_rows(x, w, dtype, (ho, wo), padding, rh)
        return _conv_scatter(x, w, dtype, (ho, wo), padding, lhs_dilation, rhs_dilation)
    if dh != 1 or dw != 1:                      # transposed convolutions: zeros between pixels
        xd = np.zeros((n, _dilate(h, dh), _dilate(wd, dw), c), dtype)
        xd[:, ::dh, ::dw] = x
        x = xd
    if min(pt, pb, pl, pr) < 0:                 # negative padding crops
        x = x[:, max(-pt, 0):x.shape[1] - max(-pb, 0), max(-pl, 0):x.shape[2] - max(-pr, 0)]
    if max(pt, pb, pl, pr) > 0:
        x = _pad(x, (max(pt, 0), max(pb, 0)), (max(pl, 0), max(pr, 0)))
    if groups == 1 and (sh, sw, rh, rw) == (1, 1, 1, 1) and kh * kw > ho * wo:
        return _conv_swapped(x, w, dtype, ho, wo)
    x = x.astype(dtype, copy=False)
    if groups == 1:
        wm = w.astype(dtype, copy=False).reshape(kh * kw * cin, cout)
        out = np.empty((n, ho, wo, cout), dtype)
        patches = _patches(x, (kh, kw), (ho, wo), strides, rhs_dilation)
        for b in _blocks(n, ho * wo * kh * kw * cin * out.itemsize, small=kw * cin < 8):
            np.matmul(patches(b), wm, out=out[b].reshape(-1, cout))
        return out
    ekh, ekw = _dilate(kh, rh), _dilate(kw, rw)
    # (n, ho, wo, c, kh, kw) window view -> (n, ho, wo, kh, kw, c): channels stay contiguous.
    win = sliding_window_view(x, (ekh, ekw), axis=(1, 2))[:, ::sh, ::sw, :, ::rh, ::rw]
    win = win.transpose(0, 1, 2, 4, 5, 3)
    g, cg = groups, cout // groups
    cols = win.reshape(n * ho * wo, kh * kw, g, cin).transpose(2, 0, 1, 3)
    cols = cols.reshape(g, n * ho * wo, kh * kw * cin)
    ws = w.astype(dtype, copy=False).reshape(kh * kw * cin, g, cg).transpose(1, 0, 2)
    out = np.matmul(cols, ws)                   # (g, n*ho*wo, cg)
    return out.transpose(1, 0, 2).reshape(n, ho, wo, cout)


def _pad(x: np.ndarray, rows: tuple, cols: tuple) -> np.ndarray:
    """``x`` padded with zeros in height and width, in its own memory order (``np.pad`` makes
    it C-ordered): the images of a filter cotangent, handed over transposed, stay in the
    layout ``_conv_swapped`` reads without another transposed copy."""
    n, h, w, c = x.shape
    out = np.zeros_like(x, shape=(n, h + rows[0] + rows[1], w + cols[0] + cols[1], c))
    out[:, rows[0]:rows[0] + h, cols[0]:cols[0] + w] = x
    return out


def _patches(x: np.ndarray, k_hw: tuple, out_hw: tuple, strides: tuple,
             dilation: tuple) -> Callable[[slice], np.ndarray]:
    """The patch matrix of a slice of the examples, copied with long inner loops; the strided
    view is made once for all slices (a view costs ~10 us, a slice of it ~0.3 us).

    An undilated filter row is ``kw * c`` contiguous elements of an NHWC image: the copy
    reads whole rows. Rows shorter than 8 elements (one to three channels) copy faster into
    the transposed matrix, whose rows are runs of ``wo`` outputs (1.5-3x faster than into the
    patch matrix's short rows; one channel's are contiguous runs of the image rows, copied
    whole); it is returned as its (Fortran-ordered) transpose, which BLAS reads as it is.
    """
    n, _, _, c = x.shape
    (kh, kw), (ho, wo), (sh, sw), (rh, rw) = k_hw, out_hw, strides, dilation
    s0, s1, s2, s3 = x.strides
    if kw * c < 8:
        # tview[i, j, k, e, p, q] = x[e, rh * i + sh * p, rw * j + sw * q, k]
        tview = as_strided(x, (kh, kw, c, n, ho, wo), (s1 * rh, s2 * rw, s3, s0, s1 * sh, s2 * sw),
                           writeable=False)
        return lambda b: _gather(tview[:, :, :, b]).reshape(kh * kw * c, -1).T
    shape: tuple[int, ...]
    steps: tuple[int, ...]
    if rw == 1:     # (kw, c) is one run of equal steps (any image rows): one axis of the view
        if c == 1:
            s3 = s2
        elif s2 != c * s3:
            x = np.ascontiguousarray(x)
            s0, s1, s2, s3 = x.strides
        shape, steps = (n, ho, wo, kh, kw * c), (s0, s1 * sh, s2 * sw, s1 * rh, s3)
    else:
        shape, steps = (n, ho, wo, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * rh, s2 * rw, s3)
    view = as_strided(x, shape, steps, writeable=False)
    return lambda b: _gather(view[b]).reshape(-1, kh * kw * c)


def _gather(view: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``view``, each run along its last axis moved as one element.

    Patches are short runs (a filter row of an image with few channels: tens of bytes).
    NumPy's copy loops pay per run; as one opaque (void) element per run a copy moves the
    run whole, ~1.8x faster for runs of up to ~200 bytes and never slower for longer ones.
    """
    if view.ndim == 0 or view.strides[-1] != view.itemsize or view.shape[-1] < 2:
        return np.array(view, order="C")
    run = np.dtype((np.void, view.shape[-1] * view.itemsize))
    return view.view(run).copy().view(view.dtype)


def _conv_swapped(x: np.ndarray, w: np.ndarray, dtype: Any, ho: int, wo: int) -> np.ndarray:
    """A convolution whose filter is spatially larger than its output, windows and taps swapped.

    That is the shape of a filter cotangent (``_conv_vjp_w`` hands over the images and the
    cotangent transposed). With the examples as channels, ``x[n, a+i, b+j, c]`` read as
    windows ``(a, b)`` over positions ``(i, j)`` of the image ``x.transpose(3, 1, 2, 0)`` is
    the forward's im2col matrix of the untransposed operands, contracted with the
    untransposed cotangent by BLAS a block of examples at a time, as ``cotangent.T @
    patches``: BLAS's fastest orientation for these shapes (1.2-1.3x ``patches.T @ cotangent``).

    The patches are gathered from the images' own layout in runs of ``wo * m`` elements (``m``
    forward channels). Runs under 8 elements from a cotangent at least 8 wide are gathered
    channel-first instead, ``kw``-long runs of the images transposed (no copy for one
    channel, a first layer's): ~1.5x faster there. Under 8 both: tap by tap, in one block.
    """
    kh, kw, c, cout = w.shape
    m = x.shape[0]                   # the images: the input channels of the forward
    wc = w.transpose(2, 0, 1, 3).astype(dtype, copy=False).reshape(c, kh * kw, cout)
    out = np.zeros((cout, ho * wo * m), dtype)
    if wo * m < 8 <= kw:
        xt = np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype)            # (m, c, H, W)
        s_m, s_c, s_h, s_w = xt.strides
        # view[i, j, a, k, p, q] = xt[a, k, i + p, j + q]: kw-long runs.
        view = as_strided(xt, (ho, wo, m, c, kh, kw), (s_h, s_w, s_m, s_c, s_h, s_w),
                          writeable=False)
        for b in _blocks(c, ho * wo * m * kh * kw * out.itemsize):
            cols = _gather(view[:, :, :, b]).reshape(ho * wo * m, -1)
            out += (cols @ wc[b].reshape(-1, cout)).T                         # the faster here
    else:
        xc = np.ascontiguousarray(x.transpose(3, 1, 2, 0), dtype)           # (c, H, W, m)
        patches = _patches(xc, (ho, wo), (kh, kw), (1, 1), (1, 1))           # (c*kh*kw, ho*wo*m)
        for b in _blocks(c, kh * kw * ho * wo * m * out.itemsize, small=wo * m < 8):
            out += wc[b].reshape(-1, cout).T @ patches(b)
    return out.reshape(cout, ho, wo, m).transpose(3, 1, 2, 0)


def _conv_rows(x: np.ndarray, w: np.ndarray, dtype: Any, out_hw: tuple, padding: tuple,
               rh: int) -> np.ndarray:
    """A stride-1 convolution one filter row at a time, for images padded more than they
    are long (the input cotangents of reverse mode).

    The image, padded in width only, is one patch matrix of ``kw * c``-long runs (a 1-D
    im2col along its rows); the product with filter row ``i`` lands on output rows
    ``pt + p - rh * i``, added as whole rows. Against ``_conv_scatter`` (one ``c``-long
    product per tap) that is ``kh`` products of ``kw`` times the depth: ~1.25x faster.
    """
    n, h, wd, c = x.shape
    kh, kw, _, cout = w.shape
    ho, wo = out_hw
    (pt, _), (pl, pr) = padding
    x = x[:, :, max(-pl, 0):wd - max(-pr, 0)]                              # negative padding crops
    wm = np.ascontiguousarray(w, dtype).reshape(kh, kw * c, cout)
    out = np.zeros((n, ho, wo, cout), dtype)
    rows = [(i,) + _tap_range(h, ho, pt - rh * i, 1) for i in range(kh)]
    rows = [r for r in rows if r[1] is not None]
    blocks = _blocks(n, h * wo * kw * c * out.itemsize, _ROW_BLOCK_BYTES)
    lo = max(pl, 0)
    padded = np.zeros((min(n, blocks[0].stop), h, lo + x.shape[2] + max(pr, 0), c), dtype)
    patches = _patches(padded, (1, kw), (h, wo), (1, 1), (1, 1))           # (b*h*wo, kw*c)
    for b in blocks:
        block = out[b]
        padded[:len(block), :, lo:lo + x.shape[2]] = x[b]   # reused: its zero borders stay
        cols = patches(slice(0, len(block)))
        for i, src, dst in rows:
            tap = (cols @ wm[i]).reshape(-1, h, wo, cout)
            block[:, dst] += tap[:, src]
    return out


def _conv_scatter(x: np.ndarray, w: np.ndarray, dtype: Any, out_hw: tuple, padding: tuple,
                  lhs_dilation: tuple, rhs_dilation: tuple) -> np.ndarray:
    """A stride-1 convolution as col2im: every pixel times each filter tap, scattered.

    Tap ``(i, j)`` maps the pixels (one matrix product, ``x @ w[i, j]``) to output rows
    ``lo + d * p - r * i``, a strided slice clipped to the output. That reads
    ``H * W * C`` elements per tap against im2col's ``Ho * Wo * C``: cheaper for the input
    cotangents of reverse mode, whose padded (and dilated) images exceed the cotangent.
    A block of examples at a time, so that the taps re-read pixels and outputs from cache.
    """
    n, h, wd, c = x.shape
    kh, kw, _, cout = w.shape
    ho, wo = out_hw
    w = np.ascontiguousarray(w, dtype)
    out = np.zeros((n, ho, wo, cout), dtype)
    rows = [_tap_range(h, ho, padding[0][0] - rhs_dilation[0] * i, lhs_dilation[0]) for i in range(kh)]
    cols = [_tap_range(wd, wo, padding[1][0] - rhs_dilation[1] * j, lhs_dilation[1]) for j in range(kw)]
    taps = [(i, j, src_r, dst_r, src_c, dst_c) for i, (src_r, dst_r) in enumerate(rows)
            for j, (src_c, dst_c) in enumerate(cols) if src_r is not None and src_c is not None]
    blocks = _blocks(n, h * wd * cout * out.itemsize)
    buffer = np.empty((min(n, blocks[0].stop) * h * wd, cout), dtype)     # reused by every tap
    for b in blocks:
        pixels = x[b].reshape(-1, c).astype(dtype, copy=False)
        block, tap = out[b], buffer[:len(pixels)]
        tap_image = tap.reshape(-1, h, wd, cout)
        for i, j, src_r, dst_r, src_c, dst_c in taps:
            np.matmul(pixels, w[i, j], out=tap)
            dst = block[:, dst_r, dst_c]
            np.add(dst, tap_image[:, src_r, src_c], out=dst)
    return out


_BLOCK_BYTES = 2 << 20      # of 128 KB-64 MB, the best for a CNN's patch matrices
_ROW_BLOCK_BYTES = 1 << 20  # _conv_rows: a ~1 MB example of larger images alone (~5% faster)


def _blocks(n: int, bytes_per_example: int, target: int | None = None,
            small: bool = False) -> list[slice]:
    """Slices of ``n`` examples whose patch (or tap) matrix is about ``target`` bytes
    (``_BLOCK_BYTES``): it stays in cache until read back, and each block's products are
    long enough to amortise their calls (the B=32 CNN's convolutions: 1.1-1.2x faster than
    blocks of 512 KB, as fast as one matrix of all examples, which holds more memory). One
    slice of all if ``small`` (filter rows of under 8 elements: the transposed patch matrix
    of ``_patches``, whose copies are cheap and calls are not)."""
    if small:
        return [slice(0, n)]
    step = max(1, (_BLOCK_BYTES if target is None else target) // max(bytes_per_example, 1))
    return [slice(s, s + step) for s in range(0, n, step)]


def _tap_range(size: int, out: int, offset: int, dilation: int) -> tuple:
    """Source and destination slices of input positions ``p`` with ``0 <= offset + d*p < out``."""
    first = max(0, -(offset // dilation) if offset < 0 else 0)
    while offset + dilation * first < 0:
        first += 1
    last = min(size - 1, (out - 1 - offset) // dilation) if out - 1 - offset >= 0 else -1
    if last < first:
        return None, None
    start = offset + dilation * first
    return (slice(first, last + 1),
            slice(start, start + dilation * (last - first) + 1, dilation))


conv2d_p = Primitive("conv2d", _conv_impl)


def _bind(x: Any, w: Any, strides: tuple, padding: tuple, lhs_dilation: tuple,
          rhs_dilation: tuple, groups: int) -> Any:
    return conv2d_p.bind(x, w, strides=strides, padding=padding, lhs_dilation=lhs_dilation,
                         rhs_dilation=rhs_dilation, groups=groups)


# ---------------------------------------------------------------------------------------
# Forward mode: the convolution is bilinear.

def _conv_jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
    x, w = primals
    tx, tw = tangents
    ans = conv2d_p.bind(x, w, **params)
    out = None
    if tx is not None:
        out = conv2d_p.bind(tx, w, **params)
    if tw is not None:
        out = add_any(out, conv2d_p.bind(x, tw, **params))
    return ans, out


jvp_rules[conv2d_p] = _conv_jvp


# ---------------------------------------------------------------------------------------
# Reverse mode: both cotangents are convolutions again (the paddings are XLA's).

def _conv_vjp_x(ct: Any, ans: Any, x: Any, w: Any, *, strides: tuple, padding: tuple,
                lhs_dilation: tuple, rhs_dilation: tuple, groups: int) -> Any:
    kh, kw, cin, cout = shape_of(w)
    g = groups
    in_hw, out_hw = shape_of(x)[1:3], shape_of(ct)[1:3]
    pads = []
    for i, k in enumerate((kh, kw)):
        ek = _dilate(k, rhs_dilation[i])
        before = ek - padding[i][0] - 1
        after = (_dilate(in_hw[i], lhs_dilation[i]) + ek - 1
                 - _dilate(out_hw[i], strides[i]) - before)
        pads.append((before, after))
    # Flip spatially; per group swap the filter's input and output channels.
    wt = P.getitem(w, (slice(None, None, -1), slice(None, None, -1)))
    wt = P.reshape(wt, (kh, kw, cin, g, cout // g))
    wt = P.reshape(P.transpose(wt, (0, 1, 4, 3, 2)), (kh, kw, cout // g, g * cin))
    out = _bind(ct, wt, tuple(lhs_dilation), tuple(pads), tuple(strides), tuple(rhs_dilation), g)
    return P.unbroadcast(out, x)


def _conv_vjp_w(ct: Any, ans: Any, x: Any, w: Any, *, strides: tuple, padding: tuple,
                lhs_dilation: tuple, rhs_dilation: tuple, groups: int) -> Any:
    kh, kw, cin, cout = shape_of(w)
    n, h, wd, _ = shape_of(x)
    g = groups
    ho, wo = shape_of(ct)[1:3]
    pads = []
    for i, (k, size, o) in enumerate(((kh, h, ho), (kw, wd, wo))):
        lo = padding[i][0]
        hi = (_dilate(o, strides[i]) - _dilate(size, lhs_dilation[i])
              + _dilate(k, rhs_dilation[i]) - lo - 1)
        pads.append((lo, hi))
    # Images: one per input channel, with the examples (per group) as their channels.
    xs = P.reshape(x, (n, h, wd, g, cin))
    xs = P.reshape(P.transpose(xs, (4, 1, 2, 3, 0)), (cin, h, wd, g * n))
    # Filter: the cotangent, examples as input channels.
    cts = P.transpose(ct, (1, 2, 0, 3))
    out = _bind(xs, cts, tuple(rhs_dilation), tuple(pads), tuple(lhs_dilation), tuple(strides), g)
    return P.unbroadcast(P.transpose(out, (1, 2, 0, 3)), w)


defvjp(conv2d_p, _conv_vjp_x, _conv_vjp_w)


# ---------------------------------------------------------------------------------------
# Batching: batched images join the example axis; batched filters become feature groups.

def _conv_batch(axis_size: int, vals: list, dims: list, *, strides: tuple, padding: tuple,
                lhs_dilation: tuple, rhs_dilation: tuple, groups: int) -> tuple[Any, int]:
    (x, w), (xd, wd) = vals, dims
    b, g = axis_size, groups
    params = dict(strides=strides, padding=padding, lhs_dilation=lhs_dilation,
                  rhs_dilation=rhs_dilation)
    if wd is None:
        x = P.moveaxis(x, xd, 0)
        shape = shape_of(x)
        out = conv2d_p.bind(P.reshape(x, (b * shape[1],) + tuple(shape[2:])), w, groups=g, **params)
        return P.reshape(out, (b, shape[1]) + tuple(shape_of(out)[1:])), 0
    w = P.moveaxis(w, wd, 0)
    _, kh, kw, cin, cout = shape_of(w)
    cg = cout // g
    if xd is None:
        # Each group's output channels gain a batch index: (kh, kw, cin, g * b * cg).
        ws = P.transpose(P.reshape(w, (b, kh, kw, cin, g, cg)), (1, 2, 3, 4, 0, 5))
        out = conv2d_p.bind(x, P.reshape(ws, (kh, kw, cin, g * b * cg)), groups=g, **params)
        n, ho, wo, _ = shape_of(out)
        out = P.transpose(P.reshape(out, (n, ho, wo, g, b, cg)), (4, 0, 1, 2, 3, 5))
        return P.reshape(out, (b, n, ho, wo, g * cg)), 0
    # Both batched: the batch index becomes an outer feature group of images and filters.
    x = P.moveaxis(x, xd, 0)
    _, n, h, wdt, c = shape_of(x)
    xs = P.reshape(P.transpose(x, (1, 2, 3, 0, 4)), (n, h, wdt, b * c))
    ws = P.reshape(P.transpose(w, (1, 2, 3, 0, 4)), (kh, kw, cin, b * cout))
    out = conv2d_p.bind(xs, ws, groups=b * g, **params)
    n, ho, wo, _ = shape_of(out)
    return P.moveaxis(P.reshape(out, (n, ho, wo, b, cout)), 3, 0), 0


batch_rules[conv2d_p] = _conv_batch


# ---------------------------------------------------------------------------------------
# The public function.

def _pair(v: Any, name: str) -> tuple:
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    v = tuple(int(i) for i in v)
    if len(v) != 2:
        raise ValueError(f"conv2d: {name} must be an int or a pair of ints, got {v!r}")
    return v


def conv_padding(padding: Any, in_hw: Sequence[int], k_hw: Sequence[int], strides: Sequence[int],
                 rhs_dilation: Sequence[int] = (1, 1)) -> tuple:
    """Explicit ``((top, bottom), (left, right))`` padding for "VALID", "SAME" or pairs.

    "SAME" gives ``ceil(size / stride)`` outputs, the extra pixel (if odd) at the bottom/right
    as TensorFlow does.

    Example:
        >>> import functrans as ft
        >>> ft.nn.conv_padding("SAME", (7, 7), (3, 3), (2, 2))
        ((1, 1), (1, 1))
        >>> ft.nn.conv_padding("VALID", (7, 7), (3, 3), (1, 1))
        ((0, 0), (0, 0))
    """
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0), (0, 0))
        if mode == "SAME":
            pads: list[tuple[int, int]] = []
            for n, k, s, d in zip(in_hw, k_hw, strides, rhs_dilation):
                out = -(-n // s)
                total = max((out - 1) * s + _dilate(k, d) - n, 0)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"conv2d: padding must be 'VALID', 'SAME' or explicit pairs, got {padding!r}")
    explicit = tuple(_pair(p, "each padding entry") for p in padding)
    if len(explicit) != 2:
        raise ValueError(f"conv2d: explicit padding needs two (low, high) pairs, got {padding!r}")
    return explicit


def conv2d(x: Any, w: Any, strides: Any = (1, 1), padding: Any = "VALID", *,
           lhs_dilation: Any = (1, 1), rhs_dilation: Any = (1, 1), groups: int = 1) -> Any:
    """2-D cross-correlation of NHWC images ``x`` with an HWIO filter ``w`` (no bias).

    ``x`` may also be one HWC image. ``padding`` is "VALID", "SAME" or
    ``((top, bottom), (left, right))``; ``rhs_dilation`` dilates the filter (atrous
    convolution), ``lhs_dilation`` the image (transposed convolution); ``groups`` splits the
    channels into independent groups (``w`` then has ``C // groups`` input channels).

    Example:
        >>> import numpy as np, functrans as ft
        >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
        >>> ft.nn.conv2d(x, np.ones((2, 2, 1, 1)))[0, :, :, 0]
        array([[10., 14., 18.],
               [26., 30., 34.],
               [42., 46., 50.]])
    """
    from .. import numpy as fnp
    x, w = fnp.asarray(x), fnp.asarray(w)
    if len(shape_of(w)) != 4:
        raise ValueError(f"conv2d: the filter must be HWIO (4-d), got shape {shape_of(w)}")
    single = len(shape_of(x)) == 3
    if single:
        x = P.expand_dims(x, 0)
    if len(shape_of(x)) != 4:
        raise ValueError(f"conv2d: images must be NHWC (4-d) or HWC (3-d), got shape {shape_of(x)}")
    strides, lhs_dilation, rhs_dilation = (_pair(strides, "strides"), _pair(lhs_dilation, "lhs_dilation"),
                                           _pair(rhs_dilation, "rhs_dilation"))
    groups = int(groups)
    c, cin = shape_of(x)[3], shape_of(w)[2]
    if c != cin * groups or shape_of(w)[3] % groups:
        raise ValueError(f"conv2d: images have {c} channels but the filter of shape {shape_of(w)} "
                         f"expects {cin * groups} ({groups} group(s) of {cin})")
    in_hw = tuple(_dilate(n, d) for n, d in zip(shape_of(x)[1:3], lhs_dilation))
    pads = conv_padding(padding, in_hw, shape_of(w)[:2], strides, rhs_dilation)
    out = _bind(x, w, strides, pads, lhs_dilation, rhs_dilation, groups)
    return P.reshape(out, shape_of(out)[1:]) if single else out
