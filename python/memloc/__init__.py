"""memloc: where a vision encoder memorizes its training data (LayerMem, ΔLayerMem, UnitMem,
ClassMem, SSLMem), computed by memloc's C++ host backend over your arrays without copying them.

Every array argument takes NumPy arrays, PyTorch tensors and anything else that speaks
DLPack or the buffer protocol, in float32, float64, float16 or bfloat16, with any strides
the layout can name. Layout strings are those of ``memloc unitmem --layout``: one letter per
axis, n samples, v views, u units, s positions or h w (a map); a leading ``(nv)`` reads the
first axis as samples x views with the views of a sample adjacent (``(vn)``: view-major), as a
forward hook sees a batch of augmented views. See docs/python.md.
"""

from __future__ import annotations

import sys
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _memloc
from ._results import (
    AlignmentResult,
    ClassMemResult,
    KendallTauResult,
    LayerMemResult,
    LayerSelection,
    OverlapMatrix,
    OverlapResult,
    PruningMasks,
    StateBuffer,
    TTestResult,
    UnitMemResult,
    UnitSampleLinks,
)

__version__ = _memloc.__version__
cuda_backend = _memloc.cuda_backend

__all__ = [
    "UnitMem", "ClassMem", "Alignment", "unitmem", "classmem", "alignment", "sslmem", "layermem",
    "top_k", "top_k_overlap", "top_k_overlap_matrix", "kendall_tau_b", "kendall_tau_b_top_k_union", "t_test",
    "pruning_masks", "select_layers", "units_to_samples", "StateBuffer", "UnitMemResult", "ClassMemResult",
    "AlignmentResult", "LayerMemResult", "KendallTauResult", "TTestResult", "OverlapResult", "OverlapMatrix",
    "PruningMasks", "LayerSelection", "UnitSampleLinks",
]


# ---------------------------------------------------------------------------
# Devices and frameworks
# ---------------------------------------------------------------------------

_CUDA_DLPACK_DEVICES = (2, 13)  # kDLCUDA, kDLCUDAManaged


def _array_device(array) -> int:
    """The CUDA device an array lives on, or -1 for host memory (and anything else, which the
    module then names in its error)."""
    # NumPy arrays and torch tensors answer without a DLPack query, which costs microseconds a call.
    if isinstance(array, np.ndarray):
        return -1
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(array, torch.Tensor):
        return int(array.device.index or 0) if array.is_cuda else -1
    query = getattr(array, "__dlpack_device__", None)
    if query is None:
        return -1
    kind, index = query()
    return int(index) if int(kind) in _CUDA_DLPACK_DEVICES else -1


def _framework(array) -> str:
    return type(array).__module__.split(".")[0]


def _current_stream(device: int, like=None) -> int:
    """The raw cudaStream_t of the producing framework's current stream on `device`, so memloc's
    kernels are ordered after the work that produced its inputs (0, the legacy default stream,
    for frameworks it does not know)."""
    framework = _framework(like) if like is not None else "torch"
    if framework == "torch" and "torch" in sys.modules:
        torch = sys.modules["torch"]
        if torch.cuda.is_available():
            return int(torch.cuda.current_stream(device).cuda_stream)
    if framework == "cupy":
        import cupy

        return int(cupy.cuda.get_current_stream().ptr)
    return 0


def _parse_device(device) -> int:
    """-1 for the host, else a CUDA device index, from None, "cpu", "cuda", "cuda:N", an int
    or a torch.device."""
    if device is None:
        return -1
    if isinstance(device, int) and not isinstance(device, bool):
        if device < 0:
            raise ValueError(f"device must be >= 0 (a CUDA device index), got {device}")
        return device
    text = str(device)
    if text == "cpu":
        return -1
    if text == "cuda":
        if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
            return int(sys.modules["torch"].cuda.current_device())
        return 0
    if text.startswith("cuda:") and text[5:].isdigit():
        return int(text[5:])
    raise ValueError(f'device must be "cpu", "cuda", "cuda:N", an int or a torch.device, got {device!r}')


def _in_framework(array, like):
    """A device result as an array of the framework `like` came from (DLPack, no copy)."""
    framework = _framework(like) if like is not None else ""
    if framework == "torch":
        return sys.modules["torch"].from_dlpack(array)
    if framework == "cupy":
        return sys.modules["cupy"].from_dlpack(array)
    if framework in ("jax", "jaxlib"):
        import jax.dlpack

        return jax.dlpack.from_dlpack(array)
    return array


def _to_numpy(array) -> np.ndarray:
    """Host copy of a small device array (alignments, scores); host arrays pass through."""
    if _array_device(array) < 0:
        return array
    if _framework(array) == "torch":
        return array.cpu().numpy()
    return _memloc._to_host(array)


def _as_indices(values, argument: str = "ids"):
    """Python sequences of ids or labels as int64 arrays; arrays are left to the module. A
    sequence holding anything but integers is refused, as an array of floats is."""
    if isinstance(values, (list, tuple, range)):
        array = np.asarray(values)
        if array.size and array.dtype.kind not in "iu":
            raise TypeError(f"{argument} must hold integers, got {array.dtype} values")
        return array.astype(np.int64, copy=False)
    return values


# ---------------------------------------------------------------------------
# Accumulators
# ---------------------------------------------------------------------------

class _Accumulator:
    """What the three accumulators share: their device, merge, reset, and their state as named
    buffers for collective merges."""

    _kind = ""

    def __init__(self, *args, device=None, **kwargs):
        index = _parse_device(device)
        if index < 0:
            self._impl = getattr(_memloc, self._kind)(*args, **kwargs)
            self._stream = 0
        else:
            if not cuda_backend:
                raise TypeError(f"device={device!r}: this memloc module was built without its CUDA backend "
                                "(build it where nvcc is found, with MEMLOC_CUDA=ON)")
            self._stream = _current_stream(index)
            self._impl = getattr(_memloc, "Cuda" + self._kind)(*args, device=index, stream=self._stream, **kwargs)
        self._like = None  # an input of the last update: device results come back in its framework

    @property
    def device(self) -> str:
        """ "cpu", or "cuda:N" for an accumulator whose state lives on CUDA device N."""
        return "cpu" if self._impl.device < 0 else f"cuda:{self._impl.device}"

    def _stream_for(self, array) -> int:
        """Checks that `array` lives where this accumulator computes; returns the stream to use."""
        where = _array_device(array)
        if where != self._impl.device:
            have = "the host" if where < 0 else f"cuda:{where}"
            raise TypeError(f"{self._kind}.update: the arrays are on {have} but this accumulator is on {self.device}; "
                            f"create it with device={'None' if where < 0 else repr(f'cuda:{where}')} or move the arrays")
        if where >= 0:
            self._like = array
            self._stream = _current_stream(where, array)
        return self._stream

    def _results(self, values: dict) -> dict:
        if self._impl.device < 0:
            return values
        return {k: _in_framework(v, self._like) if not isinstance(v, (int, float)) else v for k, v in values.items()}

    def merge(self, other) -> None:
        """Folds `other`'s state (same class, shape and options; disjoint samples) into this one."""
        if type(other) is not type(self):
            raise TypeError(f"other must be a memloc.{self._kind}, got {type(other).__name__}")
        if other.device != self.device:
            raise ValueError(f"other must live on this accumulator's device ({self.device}), got {other.device}")
        self._impl.merge(other._impl, stream=self._stream)

    def reset(self) -> None:
        """Forgets every folded sample; the accumulator can be used again (ids start at 0)."""
        self._impl.reset(stream=self._stream)

    def state_buffers(self) -> List[StateBuffer]:
        """Each state buffer over the accumulator's own memory, with the reduction that merges it.

        Reducing every buffer across ranks (``memloc.torch.all_reduce`` does it over
        torch.distributed) leaves each rank with the state of all ranks' samples. Host
        accumulators give NumPy arrays; CUDA ones give DLPack arrays (``torch.from_dlpack``).
        """
        return [StateBuffer(name, array, reduction) for name, array, reduction, _ in self._impl.state_buffers()]

    def signature(self) -> List[Tuple[str, int]]:
        """The fields that must be equal on every rank before buffers are merged element-wise."""
        return [(name, value) for name, value in self._impl.signature()]


class UnitMem(_Accumulator):
    """UnitMem of one layer, folded batch by batch (torchmetrics-style update / finalize / reset).

    ``UnitMem(samples, units, views=1, positions=1, reduce="mean"|"median",
    transform="none"|"relu"|"abs", storage="auto"|"per_unit"|"per_sample", device=None)``;
    ``update(acts, ids=None, layout=None)`` folds a batch (ids default to consecutive ids
    counted by this accumulator); ``merge(other)``; ``finalize() -> UnitMemResult``; ``reset()``.
    With ``device="cuda"`` the state lives on the GPU, updates run on the current stream of the
    arrays' framework and never wait for it, and results come back on the device.
    """

    _kind = "UnitMem"

    def update(self, acts, ids=None, layout: Optional[str] = None) -> None:
        self._impl.update(acts, _as_indices(ids), layout, self._stream_for(acts))

    def finalize(self) -> UnitMemResult:
        return UnitMemResult(**self._results(self._impl.finalize(stream=self._stream)))


class ClassMem(_Accumulator):
    """ClassMem of one layer: ``ClassMem(samples, units, classes, views=1, positions=1,
    transform=..., device=None)``, ``update(acts, labels, ids=None, layout=None)``,
    ``finalize() -> ClassMemResult``."""

    _kind = "ClassMem"

    def update(self, acts, labels, ids=None, layout: Optional[str] = None) -> None:
        self._impl.update(acts, _as_indices(labels, "labels"), _as_indices(ids), layout, self._stream_for(acts))

    def finalize(self) -> ClassMemResult:
        return ClassMemResult(**self._results(self._impl.finalize(stream=self._stream)))


class Alignment(_Accumulator):
    """SSL_f and SSL_g of every sample at one measurement point: ``Alignment(samples, views,
    features, distance="l2", pairs="all_pairs", device=None)``, ``update(f, g, ids=None,
    layout=None)`` with representation layouts of letters n, v and f (feature axes, flattened),
    e.g. "nvf", "(nv)f", "nvfff"; ``finalize() -> AlignmentResult``."""

    _kind = "Alignment"

    def update(self, f, g, ids=None, layout: Optional[str] = None) -> None:
        stream = self._stream_for(f)
        self._stream_for(g)
        self._impl.update(f, g, _as_indices(ids), layout, stream)

    def finalize(self) -> AlignmentResult:
        return AlignmentResult(**self._results(self._impl.finalize(stream=self._stream)))


def _device_name(array) -> Optional[str]:
    index = _array_device(array)
    return None if index < 0 else f"cuda:{index}"


def unitmem(acts, *, layout: Optional[str] = None, views: int = 1, reduce: str = "mean",
            transform: str = "none") -> UnitMemResult:
    """UnitMem over activations holding every sample once: sample i is row i of the samples axis."""
    samples, batch_views, units, positions = _memloc._activation_geometry(acts, layout, views)
    acc = UnitMem(samples, units, views=batch_views, positions=positions, reduce=reduce, transform=transform,
                  device=_device_name(acts))
    acc.update(acts, layout=layout)
    return acc.finalize()


def classmem(acts, labels, *, classes: Optional[int] = None, layout: Optional[str] = None, views: int = 1,
             transform: str = "none") -> ClassMemResult:
    """ClassMem over activations holding every sample once; classes defaults to max(labels) + 1."""
    samples, batch_views, units, positions = _memloc._activation_geometry(acts, layout, views)
    if classes is None:
        label_values = np.asarray(_to_numpy(_as_indices(labels, "labels")))
        if label_values.size == 0:
            raise ValueError("labels must not be empty")
        classes = int(label_values.max()) + 1
    acc = ClassMem(samples, units, classes, views=batch_views, positions=positions, transform=transform,
                   device=_device_name(acts))
    acc.update(acts, labels, layout=layout)
    return acc.finalize()


def alignment(f, g, *, layout: Optional[str] = None, views: int = 1, distance: str = "l2",
              pairs: str = "all_pairs") -> AlignmentResult:
    """SSL_f and SSL_g of every sample of representations f and g (same layout and shape)."""
    samples, batch_views, features = _memloc._representation_geometry(f, layout, views)
    acc = Alignment(samples, batch_views, features, distance=distance, pairs=pairs, device=_device_name(f))
    acc.update(f, g, layout=layout)
    return acc.finalize()


def _ndim(array) -> int:
    ndim = getattr(array, "ndim", None)
    if ndim is not None:
        return int(ndim)
    # DLPack producers without .ndim (memloc's own device results among them).
    return _memloc._ndim(array) if hasattr(array, "__dlpack__") else np.ndim(array)


def _alignments(name: str, f, g, layout, views, distance, pairs):
    """(ssl_f, ssl_g) as host NumPy arrays: f and g themselves when 1-D, else the alignments of
    representations (one value per sample, so a device result is copied to the host here)."""
    if _ndim(f) == 1 and _ndim(g) == 1:
        return np.asarray(_to_numpy(f)), np.asarray(_to_numpy(g))
    if _ndim(f) == 1 or _ndim(g) == 1:
        raise ValueError(f"{name}: f and g must both be alignments (1-D) or both representations, "
                         f"got {_ndim(f)}-D and {_ndim(g)}-D")
    result = alignment(f, g, layout=layout, views=views, distance=distance, pairs=pairs)
    return np.asarray(_to_numpy(result.ssl_f)), np.asarray(_to_numpy(result.ssl_g))


def sslmem(f, g, *, layout: Optional[str] = None, views: int = 1, distance: str = "l2", pairs: str = "all_pairs",
           normalize: str = "ratio", clamp01: bool = False) -> np.ndarray:
    """SSLMem score of every sample (LOC Eqs. 1-2): from alignments ssl_f, ssl_g (1-D) or from
    representations of f and g (then measured with distance and pairs first)."""
    ssl_f, ssl_g = _alignments("sslmem", f, g, layout, views, distance, pairs)
    return _memloc._sslmem(ssl_f, ssl_g, normalize, clamp01)["scores"]


def layermem(points: Mapping[str, Tuple[object, object]], *, distance: str = "l2", pairs: str = "all_pairs",
             normalize: str = "ratio", clamp01: bool = False, subset: str = "all", k: int = 0, seed: int = 0,
             rank_point: Union[int, str] = -1, layout: Optional[str] = None, views: int = 1) -> LayerMemResult:
    """LayerMem and ΔLayerMem (LOC Eqs. 2-4) over ordered measurement points.

    ``points`` maps each point's name, in network order, to (f, g): representations of f and g
    there, or their alignments (1-D). ``subset`` is "all", "random", "top" or "least" (k samples;
    top/least ranked at ``rank_point``, an index or a name, the last point by default).
    """
    if not isinstance(points, Mapping):
        raise TypeError(f"points must be a mapping name -> (f, g), got {type(points).__name__}")
    names = list(points)
    # The arguments first, before any point's alignments are computed.
    for argument, value in (("k", k), ("seed", seed)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{argument} must be an integer >= 0, got {value!r}")
    if isinstance(rank_point, str):
        if rank_point not in points:
            raise ValueError(f'rank_point "{rank_point}" must name one of the points {names}')
        rank_point = names.index(rank_point)
    ssl_f, ssl_g = {}, {}
    for name in names:
        pair = points[name]
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f'points["{name}"] must be a pair (f, g), got {type(pair).__name__}')
        ssl_f[name], ssl_g[name] = _alignments(f'points["{name}"]', pair[0], pair[1], layout, views, distance, pairs)
    out = _memloc._layermem(names, [ssl_f[n] for n in names], [ssl_g[n] for n in names], normalize, clamp01, subset,
                            k, seed, rank_point)
    return LayerMemResult(names, out["layermem"], out["delta"], out["subset"], ssl_f, ssl_g)


def top_k(scores, k: Optional[int] = None, *, fraction: Optional[float] = None, direction: str = "top") -> np.ndarray:
    """Indices of the k highest (direction="top") or lowest ("least") scores, best first; ties by
    lower index, NaN last. Give k or fraction (k = ceil(fraction * n))."""
    indices, _ = _memloc._top_k(_to_numpy(scores), k, fraction, direction)
    return indices


def top_k_overlap(a, b, k: Optional[int] = None, *, fraction: Optional[float] = None,
                  direction: str = "top") -> OverlapResult:
    """|top-k(a) ∩ top-k(b)| for two score vectors over the same items (LOC §4.1)."""
    size, count, share = _memloc._top_k_overlap(_to_numpy(a), _to_numpy(b), k, fraction, direction)
    return OverlapResult(count, share, size)


def top_k_overlap_matrix(points: Mapping[str, object], k: Optional[int] = None, *, fraction: Optional[float] = None,
                         direction: str = "top") -> OverlapMatrix:
    """top_k_overlap of every pair of named score vectors (LOC Table 3)."""
    names = list(points)
    size, counts = _memloc._top_k_overlap_matrix(names, [_to_numpy(points[n]) for n in names], k, fraction, direction)
    return OverlapMatrix(names, size, counts.reshape(len(names), len(names)))


def kendall_tau_b(x, y, *, alternative: str = "two-sided", method: str = "auto") -> KendallTauResult:
    """Kendall's τ-b and its p-value, as scipy.stats.kendalltau(x, y, method=, alternative=)."""
    r = _memloc._kendall_tau_b(_to_numpy(x), _to_numpy(y), alternative, method)
    return KendallTauResult(r.pop("tau"), r.pop("pvalue"), **r)


def kendall_tau_b_top_k_union(x, y, k: Optional[int] = None, *, fraction: Optional[float] = None,
                              direction: str = "top", alternative: str = "two-sided") -> KendallTauResult:
    """τ-b over the union of the top-k items of x and of y (spec A7)."""
    r = _memloc._kendall_tau_b_top_k_union(_to_numpy(x), _to_numpy(y), k, fraction, direction, alternative)
    return KendallTauResult(r.pop("tau"), r.pop("pvalue"), **r)


def t_test(a, b, *, equal_var: bool = True, alternative: str = "two-sided") -> TTestResult:
    """Two-sample t-test as scipy.stats.ttest_ind(a, b, equal_var=, alternative=): Student's
    pooled test (the authors' Ttest.py) by default, Welch's with equal_var=False."""
    r = _memloc._t_test(_to_numpy(a), _to_numpy(b), equal_var, alternative)
    return TTestResult(r["statistic"], r["pvalue"], r["df"])


def pruning_masks(layers: Mapping[str, object], *, selection: str = "top", scope: str = "per_layer",
                  k: Optional[int] = None, fraction: Optional[float] = None, seed: int = 0) -> PruningMasks:
    """Units to prune by UnitMem (LOC Table 6): the top, low or random k (or fraction, 0.1 when
    neither is given) of each layer's units (scope="per_layer") or of all layers' ("total")."""
    if k is None and fraction is None:
        fraction = 0.1
    names = list(layers)
    rows = _memloc._pruning_masks(names, [_to_numpy(layers[n]) for n in names], selection, scope, k, fraction, seed)
    return PruningMasks({n: m.astype(bool) for n, m, _, _ in rows}, {n: u for n, _, u, _ in rows},
                        {n: c for n, _, _, c in rows})


def select_layers(values: Mapping[str, float], count: int, *, direction: str = "top") -> LayerSelection:
    """The count measurement points with the highest (or lowest) values, e.g. LayerMem; NaN last."""
    names = list(values)
    chosen, indices, nan_count = _memloc._select_layers(names, np.asarray([values[n] for n in names], dtype=np.float64),
                                                        count, direction)
    return LayerSelection(chosen, indices, nan_count)


def units_to_samples(unitmem, argmax, sample_scores, *, top_units: Optional[int] = None,
                     fraction: Optional[float] = None) -> UnitSampleLinks:
    """How units and samples relate through each unit's argmax sample (LOC Fig. 1b, Table 12)."""
    return UnitSampleLinks(**_memloc._units_to_samples(_to_numpy(unitmem), _to_numpy(argmax), _to_numpy(sample_scores), top_units, fraction))
