"""memloc for PyTorch: forward hooks that fold a model's activations into memloc's accumulators,
and the merge of accumulators across the ranks of ``torch.distributed``.

``import memloc`` never imports this module, so memloc works without PyTorch; ``import
memloc.torch`` needs it.

Batch layout. Every forward the recorder sees holds B samples x V views in its first axis, the V
views of one sample adjacent (rows ``b*V .. b*V+V-1`` are sample b): a conv layer's output is
``[B*V, C, H, W]``, a linear layer's ``[B*V, C]``. Each forward must carry all V views of each of
its samples, and each sample is folded once (one forward per sample over the whole run, on one
rank). Units are the channels C; positions are H*W. For SSLMem alignments a point's
representation is everything but the batch axis, flattened.

Accumulators live where the activations are: on a CUDA model they are memloc's CUDA accumulators
on that device, fed on PyTorch's current stream without a copy (where memloc was built without
its CUDA backend, hooks copy each activation to host memory in its own dtype instead). bf16 and
fp16 are read natively, never converted. ``all_reduce`` reduces each accumulator's buffers where
they live: host buffers need a backend that reduces CPU tensors (gloo, MPI), device buffers one
that reduces CUDA tensors (NCCL).
"""

from __future__ import annotations

import contextlib
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist

import memloc
from memloc import _memloc

__all__ = ["all_reduce", "Recorder"]

_INT64_SIGN = torch.iinfo(torch.int64).min  # x ^ this maps unsigned order onto signed order
_ELEMENT_CODES = {"f64": 1, "i64": 2, "i32": 3, "u64": 4, "f32": 5}
_REDUCTION_CODES = {"sum": 1, "max": 2}


def _buffers(acc) -> List[tuple]:
    """(name, tensor over the accumulator's own memory, reduction, element) of each state buffer,
    the uint64 keys typed int64 (PyTorch has no uint64): host buffers through NumPy, device
    buffers through DLPack, neither copied."""
    out = []
    for name, array, reduction, element in acc._impl.state_buffers(True):
        tensor = torch.from_numpy(array) if isinstance(array, np.ndarray) else torch.from_dlpack(array)
        out.append((name, tensor, reduction, element))
    return out


def _signature_fields(acc) -> List[tuple]:
    """The accumulator's own signature plus each buffer's element type, reduction and count: the
    buffers are what gets reduced, so a rank whose buffers differ must be caught before any of them."""
    fields = [(str(name), int(value)) for name, value in acc.signature()]
    for i, (name, tensor, reduction, element) in enumerate(_buffers(acc)):
        fields.append((f"state_buffers()[{i}] ({name}) element", _ELEMENT_CODES.get(element, 0)))
        fields.append((f"state_buffers()[{i}] ({name}) reduction", _REDUCTION_CODES.get(reduction, 0)))
        fields.append((f"state_buffers()[{i}] ({name}) count", int(tensor.numel())))
    return fields


def _agree(values: Sequence[int], names: Sequence[str], what: str, group) -> None:
    """Raise the same ValueError on every rank unless all ranks hold the same values.

    The count goes first, in a tensor of fixed size, so ranks holding different numbers of
    fields still run collectives of equal size and never wait on each other.
    """
    count = torch.tensor([len(values)], dtype=torch.int64)
    count_max, count_min = count.clone(), count.clone()
    dist.all_reduce(count_max, op=dist.ReduceOp.MAX, group=group)
    dist.all_reduce(count_min, op=dist.ReduceOp.MIN, group=group)
    if int(count_max) != int(count_min):
        raise ValueError(f"{what}: the ranks' accumulators differ in their number of signature fields "
                         f"(min {int(count_min)}, max {int(count_max)}): different accumulator kinds or storage; "
                         f"nothing was merged")
    if not values:
        return
    local = torch.tensor(list(values), dtype=torch.int64)
    high, low = local.clone(), local.clone()
    dist.all_reduce(high, op=dist.ReduceOp.MAX, group=group)
    dist.all_reduce(low, op=dist.ReduceOp.MIN, group=group)
    differing = torch.nonzero(high != low).flatten()
    if differing.numel():
        i = int(differing[0])
        raise ValueError(f'{what}: the ranks\' accumulators differ in "{names[i]}" (min {int(low[i])}, '
                         f"max {int(high[i])}); construct them with the same shape and options on every rank; "
                         f"nothing was merged")


def all_reduce(acc, group=None) -> None:
    """Merge a memloc accumulator (UnitMem, ClassMem or Alignment) across the ranks of ``group``.

    Collective: every rank of the group calls it, in the same order for the same accumulators.
    Afterwards each rank holds the state of all ranks' samples and may ``finalize``. The ranks
    first compare the accumulators' signatures; if any field differs every rank raises the same
    ValueError and nothing is merged. Each buffer is then reduced in place (SUM, or an unsigned
    MAX for the uint64 keys) over memloc's own memory, without copies: host buffers need a group
    whose backend reduces CPU tensors (gloo, MPI), CUDA accumulators' buffers one that reduces
    CUDA tensors (NCCL).
    """
    if not isinstance(acc, (memloc.UnitMem, memloc.ClassMem, memloc.Alignment)):
        raise TypeError(f"acc must be a memloc.UnitMem, ClassMem or Alignment, got {type(acc).__name__}")
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError("all_reduce needs torch.distributed initialised (torch.distributed.init_process_group)")
    fields = _signature_fields(acc)
    _agree([v for _, v in fields], [n for n, _ in fields], f"all_reduce({type(acc).__name__})", group)
    for name, tensor, reduction, element in _buffers(acc):
        if reduction == "sum":
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=group)
        elif reduction == "max" and element == "u64":
            # torch has no unsigned 64-bit max; flipping the top bit makes signed order match.
            tensor.bitwise_xor_(_INT64_SIGN)
            try:
                dist.all_reduce(tensor, op=dist.ReduceOp.MAX, group=group)
            finally:
                tensor.bitwise_xor_(_INT64_SIGN)
        elif reduction == "max":
            dist.all_reduce(tensor, op=dist.ReduceOp.MAX, group=group)
        else:
            raise ValueError(f'state buffer "{name}": unknown reduction "{reduction}"')


def _first_tensor(output, where: str) -> torch.Tensor:
    """A module's output, or the first tensor of a tuple / list output (e.g. (out, attn))."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, torch.Tensor):
                return item
    raise ValueError(f"{where}: the module's output must be a tensor or a tuple / list holding one, "
                     f"got {type(output).__name__}")


def _where(tensor: torch.Tensor) -> Optional[str]:
    """The device memloc's accumulator for `tensor` lives on: its CUDA device, or the host."""
    return str(tensor.device) if tensor.is_cuda else None


def _representation_layout(layout: str) -> str:
    """The Alignment layout of an activation layout: n and v stay, every other axis is a feature."""
    if layout.startswith("(nv)") or layout.startswith("(vn)"):
        return layout[:4] + "f" * (len(layout) - 4)
    return "".join(c if c in "nv" else "f" for c in layout)


def _default_layout(ndim: int) -> Optional[str]:
    return {4: "(nv)uhw", 2: "(nv)u", 5: "nvuhw"}.get(ndim)


def _as_index_array(values, argument: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{argument} must be a 1-D array of integers, got shape {array.shape} of {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.int64)


class _Batch:
    """The ids and labels of the forward pass(es) in flight, and which hooks have fired for them."""

    def __init__(self, ids: Optional[np.ndarray], labels: Optional[np.ndarray], source: str):
        self.ids = ids
        self.labels = labels
        self.source = source  # "step" or "batch": error messages say where the ids came from
        self.fired = set()  # (side, layer) pairs: a second firing would fold the same ids twice
        self.folded = False  # whether any accumulator holds this batch yet
        self.pending: Dict[str, Dict[str, torch.Tensor]] = {"f": {}, "g": {}}


class _BatchScope:
    """What rec.batch() returns: the batch is already set; leaving a with-block ends it."""

    def __init__(self, recorder: "Recorder"):
        self._recorder = recorder

    def __enter__(self) -> "Recorder":
        return self._recorder

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._recorder._batch = None  # the caller's exception says more than an unpaired activation
        else:
            self._recorder._end()


class Recorder:
    """Forward hooks that fold a model's activations at named modules into memloc accumulators.

    ``Recorder(f, g=None, *, layers, samples, views, classes=None, unitmem=True,
    alignment=(g is not None), reduce="mean", transform="none", distance="l2",
    pairs="all_pairs", layout=None)``

    At each name in ``layers`` (``dict(f.named_modules())`` keys, in network order) it keeps:
    UnitMem of f's activations; ClassMem of f's activations when ``classes`` is given; and the
    SSL alignments of f's and g's activations (g must have modules of the same names) when
    ``alignment``. The accumulators are created at the first activation, from its shape
    (units = channels, positions = H*W; ``layout`` names the axes for other shapes, e.g.
    ``"(nv)su"`` for [B*V, tokens, C]). See the module docstring for the batch layout.

    Inference: ``rec.step(x, ids=None, labels=None)`` runs f(x) and g(x) under no_grad (ids
    default to consecutive ids from 0; put the models in eval mode yourself). Training loop:
    ``with rec.batch(ids, labels): loss = ...f(x)...`` tells the hooks which samples the
    forwards you run yourself hold. Results: ``unitmem()``, ``classmem()``, ``alignments()``,
    ``layermem(...)``; ``all_reduce(group)`` merges every rank's accumulators; ``close()``
    (or leaving a ``with Recorder(...)`` block) removes the hooks.

    Ids and labels out of range are refused before anything is folded. A batch that fails
    later (say g's output shape differs from f's) stays folded in the accumulators the forward
    had reached; ``step`` numbers the next batch after it, and ``reset()`` starts over.
    """

    def __init__(self, f: torch.nn.Module, g: Optional[torch.nn.Module] = None, *, layers: Iterable[str],
                 samples: int, views: int, classes: Optional[int] = None, unitmem: bool = True,
                 alignment: Optional[bool] = None, reduce: str = "mean", transform: str = "none",
                 distance: str = "l2", pairs: str = "all_pairs", layout: Optional[str] = None):
        if not isinstance(f, torch.nn.Module):
            raise TypeError(f"f must be a torch.nn.Module, got {type(f).__name__}")
        if g is not None and not isinstance(g, torch.nn.Module):
            raise TypeError(f"g must be a torch.nn.Module or None, got {type(g).__name__}")
        if g is f:
            raise ValueError("g must be a different module than f (SSLMem compares an encoder trained on the "
                             "samples with one trained without them)")
        if isinstance(layers, str):
            raise ValueError(f'layers must be a list of module names, got the string "{layers}"')
        self.layers: List[str] = list(layers)
        if not self.layers:
            raise ValueError("layers must name at least one module, got none")
        if len(set(self.layers)) != len(self.layers):
            raise ValueError(f"layers must not repeat a name, got {self.layers}")
        for argument, value in (("samples", samples), ("views", views)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{argument} must be a positive integer, got {value!r}")
        if classes is not None and (not isinstance(classes, (int, np.integer)) or classes < 1):
            raise ValueError(f"classes must be a positive integer or None, got {classes!r}")
        if alignment is None:
            alignment = g is not None
        if alignment and g is None:
            raise ValueError("alignment=True needs g, the second encoder; got g=None")
        if not (unitmem or classes is not None or alignment):
            raise ValueError("nothing to record: unitmem=False, classes=None and alignment=False")
        self.f, self.g = f, g
        self.samples, self.views, self.classes = int(samples), int(views), classes
        self._want_unitmem, self._want_alignment = bool(unitmem), bool(alignment)
        self._options = dict(reduce=reduce, transform=transform, distance=distance, pairs=pairs)
        self.layout = layout
        self._unitmem: Dict[str, memloc.UnitMem] = {}
        self._classmem: Dict[str, memloc.ClassMem] = {}
        self._alignment: Dict[str, memloc.Alignment] = {}
        self._batch: Optional[_Batch] = None
        self._paused = False
        self._next_id = 0
        self._handles = []
        self._closed = False
        hooked = []
        for side, model in (("f", f), ("g", g)):
            if model is None or (side == "g" and not self._want_alignment):
                continue
            modules = dict(model.named_modules())
            for name in self.layers:
                if name not in modules:
                    valid = [n for n in modules if n][:8]
                    raise ValueError(f'layers: "{name}" is not a module of {side} '
                                     f"(valid names include {valid}{', ...' if len(modules) > 9 else ''})")
            hooked += [(side, name, modules[name]) for name in self.layers]
        # Registered only once every name resolved, so a failed constructor leaves no hooks behind.
        for side, name, module in hooked:
            self._handles.append(module.register_forward_hook(self._hook(side, name)))

    # ---- hooks -----------------------------------------------------------------------------

    def _hook(self, side: str, layer: str):
        def hook(module, inputs, output):
            if self._paused:
                return
            self._record(side, layer, _first_tensor(output, f'{side} layer "{layer}"'))
        return hook

    def _record(self, side: str, layer: str, output: torch.Tensor) -> None:
        batch = self._batch
        if batch is None:
            raise ValueError(f'ids: {side}\'s layer "{layer}" ran with no batch ids set; run the forward through '
                             f"rec.step(x, ids=...) or inside `with rec.batch(ids=..., labels=...)` "
                             f"(or `with rec.paused()` to run it unrecorded)")
        if (side, layer) in batch.fired:
            raise ValueError(f'{side}\'s layer "{layer}" ran twice for one batch: the module is called more than once '
                             f"per forward (e.g. a shared activation module) or two forwards ran under one "
                             f"rec.batch(); hook a module that runs once, and set ids before each forward")
        batch.fired.add((side, layer))
        acts = output.detach()
        if acts.device.type != "cpu" and not (acts.is_cuda and memloc.cuda_backend):
            acts = acts.to("cpu")  # no CUDA accumulators in this build: fold on the host, in the same dtype
        layout = self.layout or _default_layout(acts.ndim)
        if layout is None:
            raise ValueError(f'layout: {side}\'s layer "{layer}" outputs a {acts.ndim}-D tensor of shape '
                             f"{tuple(acts.shape)}; name its axes with layout= (e.g. \"(nv)su\" for "
                             f"[B*V, tokens, C])")
        rows = acts.shape[0] if acts.ndim else 0
        if layout.startswith("(") and rows % self.views != 0:
            raise ValueError(f'{side}\'s layer "{layer}": the batch axis holds {rows} rows, not a multiple of '
                             f"views={self.views} (rows are B samples x {self.views} views, views adjacent)")
        n = rows // self.views if layout.startswith("(") else rows
        ids = batch.ids
        if ids is None:
            ids = batch.ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        if ids.size != n:
            raise ValueError(f"ids: {side}'s layer \"{layer}\" holds {n} samples ({rows} rows / {self.views} views), "
                             f"got {ids.size} ids")
        # Checked before any update, so a batch with bad ids or labels folds nothing anywhere.
        if ids.size and (ids.min() < 0 or ids.max() >= self.samples):
            raise ValueError(f"ids: sample ids must lie in [0, samples={self.samples}), got "
                             f"[{int(ids.min())}, {int(ids.max())}]")
        if side == "f" and self.classes is not None:
            if batch.labels is None:
                raise ValueError(f"labels: the recorder counts ClassMem (classes={self.classes}), so every batch "
                                 f"needs labels; got none")
            if batch.labels.size != ids.size:
                raise ValueError(f"labels: expected one label per sample ({ids.size}), got {batch.labels.size}")
            if batch.labels.size and (batch.labels.min() < 0 or batch.labels.max() >= int(self.classes)):
                raise ValueError(f"labels: classes must lie in [0, classes={self.classes}), got "
                                 f"[{int(batch.labels.min())}, {int(batch.labels.max())}]")
        if side == "f":
            self._fold_units(layer, acts, layout, ids, batch.labels)
        if self._want_alignment:
            self._pair(side, layer, acts, layout, ids, batch)

    def _fold_units(self, layer, acts, layout, ids, labels) -> None:
        if not self._want_unitmem and self.classes is None:
            return
        if layer not in self._unitmem and layer not in self._classmem:
            _, views, units, positions = _memloc._activation_geometry(acts, layout, self.views)
            if views != self.views:
                raise ValueError(f'layout: "{layout}" reads {views} views at layer "{layer}", the recorder was '
                                 f"built with views={self.views}")
            if self._want_unitmem:
                self._unitmem[layer] = memloc.UnitMem(self.samples, units, views=views, positions=positions,
                                                      reduce=self._options["reduce"],
                                                      transform=self._options["transform"], device=_where(acts))
            if self.classes is not None:
                self._classmem[layer] = memloc.ClassMem(self.samples, units, int(self.classes), views=views,
                                                        positions=positions, transform=self._options["transform"],
                                                        device=_where(acts))
        if self._want_unitmem:
            self._unitmem[layer].update(acts, ids=ids, layout=layout)
            self._batch.folded = True
        if self.classes is not None:
            self._classmem[layer].update(acts, labels, ids=ids, layout=layout)
            self._batch.folded = True

    def _pair(self, side, layer, acts, layout, ids, batch) -> None:
        other = "g" if side == "f" else "f"
        partner = batch.pending[other].pop(layer, None)
        if partner is None:
            # Copied, because a later in-place op (ReLU(inplace=True)) may overwrite the output
            # before the other encoder's forward runs.
            batch.pending[side][layer] = acts.clone(memory_format=torch.contiguous_format)
            return
        f_acts, g_acts = (acts, partner) if side == "f" else (partner, acts)
        if f_acts.shape != g_acts.shape:
            raise ValueError(f'layer "{layer}": f and g must output the same shape for alignment, got '
                             f"{tuple(f_acts.shape)} and {tuple(g_acts.shape)}")
        # Flattening C, H, W into features needs them contiguous; the order of the features does
        # not change a distance, as long as f and g use the same one.
        f_acts, g_acts = f_acts.contiguous(), g_acts.contiguous()
        rep_layout = _representation_layout(layout)
        if layer not in self._alignment:
            _, views, features = _memloc._representation_geometry(f_acts, rep_layout, self.views)
            self._alignment[layer] = memloc.Alignment(self.samples, views, features,
                                                      distance=self._options["distance"],
                                                      pairs=self._options["pairs"], device=_where(f_acts))
        self._alignment[layer].update(f_acts, g_acts, ids=ids, layout=rep_layout)
        batch.folded = True

    # ---- batches ---------------------------------------------------------------------------

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise ValueError(f"{what}: the recorder is closed (its hooks are removed); create a new Recorder")

    def _begin(self, ids, labels, source: str) -> None:
        self._check_open(f"rec.{source}()")
        if self._batch is not None:
            self._end()
        ids = None if ids is None else _as_index_array(ids, "ids")
        labels = None if labels is None else _as_index_array(labels, "labels")
        if labels is not None and self.classes is None:
            raise ValueError("labels: given, but the recorder was built without classes=; pass "
                             "Recorder(..., classes=...) to count ClassMem")
        if labels is not None and ids is not None and labels.size != ids.size:
            raise ValueError(f"labels: expected one label per id ({ids.size}), got {labels.size}")
        self._batch = _Batch(ids, labels, source)

    def _end(self) -> None:
        batch, self._batch = self._batch, None
        if batch is None:
            return
        if batch.ids is not None and batch.source == "step":
            self._next_id = max(self._next_id, int(batch.ids.max()) + 1 if batch.ids.size else self._next_id)
        unpaired = [f"{side}:{layer}" for side in ("f", "g") for layer in batch.pending[side]]
        if unpaired:
            missing = "g" if batch.pending["f"] else "f"
            raise ValueError(f"alignment: the batch ended with activations that {missing}'s forward never matched "
                             f"({unpaired}); run both f(x) and g(x) on every batch, or pass alignment=False")

    def batch(self, ids, labels=None) -> "_BatchScope":
        """Set the sample ids (and labels) of the forwards that follow: global sample ids, one per
        sample (not per view), the views of a sample adjacent in the batch axis. One forward of f
        (and one of g) per batch. Use it as a block, ``with rec.batch(ids, labels): ...``, which
        ends the batch on leaving, or as a setter that lasts until the next batch() / step()."""
        if ids is None:
            raise ValueError("ids: rec.batch() needs the batch's sample ids, got None")
        self._begin(ids, labels, "batch")
        return _BatchScope(self)

    @contextlib.contextmanager
    def paused(self):
        """Forwards within the block are not recorded (e.g. a validation pass)."""
        previous, self._paused = self._paused, True
        try:
            yield self
        finally:
            self._paused = previous

    def step(self, x: torch.Tensor, ids=None, labels=None) -> None:
        """Fold one batch: run f(x) (and g(x) when aligning) under torch.no_grad().

        ``x`` is [B*V, ...] with the views of each sample adjacent; ``ids`` (B global sample ids)
        default to the ids after the last batch's, from 0.
        """
        self._check_open("rec.step()")
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[0] % self.views != 0:
            raise ValueError(f"x: the batch axis must hold B samples x views={self.views} rows, got shape "
                             f"{tuple(x.shape)}")
        if ids is not None and _as_index_array(ids, "ids").size != x.shape[0] // self.views:
            raise ValueError(f"ids: x holds {x.shape[0] // self.views} samples ({x.shape[0]} rows / "
                             f"{self.views} views), got {_as_index_array(ids, 'ids').size} ids")
        self._begin(ids, labels, "step")
        try:
            with torch.no_grad():
                self.f(x)
                if self.g is not None and self._want_alignment:
                    self.g(x)
        except BaseException:
            # Accumulators the forward reached before the failure hold this batch now: numbering
            # the next batch after it keeps the next step from folding the same ids again.
            failed, self._batch = self._batch, None
            if failed is not None and failed.folded and failed.ids is not None and failed.ids.size:
                self._next_id = max(self._next_id, int(failed.ids.max()) + 1)
            raise
        self._end()

    # ---- results ---------------------------------------------------------------------------

    def _finalized(self, accumulators: Dict[str, object], what: str) -> Dict[str, object]:
        missing = [layer for layer in self.layers if layer not in accumulators]
        if missing:
            raise ValueError(f"{what}: nothing was recorded at layers {missing}; run batches first "
                             f"(did their modules run in the forward?)")
        return {layer: accumulators[layer].finalize() for layer in self.layers}

    def unitmem(self) -> Dict[str, "memloc.UnitMemResult"]:
        """UnitMem of every layer, in the order of ``layers``."""
        if not self._want_unitmem:
            raise ValueError("unitmem: the recorder was built with unitmem=False")
        return self._finalized(self._unitmem, "unitmem")

    def classmem(self) -> Dict[str, "memloc.ClassMemResult"]:
        """ClassMem of every layer, in the order of ``layers``."""
        if self.classes is None:
            raise ValueError("classmem: the recorder was built without classes=")
        return self._finalized(self._classmem, "classmem")

    def alignments(self) -> Dict[str, "memloc.AlignmentResult"]:
        """SSL_f and SSL_g of every sample at every layer (every sample id must have been folded)."""
        if not self._want_alignment:
            raise ValueError("alignments: the recorder was built without g or with alignment=False")
        return self._finalized(self._alignment, "alignments")

    def layermem(self, *, normalize: str = "ratio", clamp01: bool = False, subset: str = "all", k: int = 0,
                 seed: int = 0, rank_point=-1) -> "memloc.LayerMemResult":
        """LayerMem and ΔLayerMem over the layers in the order given (memloc.layermem's options)."""
        aligned = self.alignments()
        return memloc.layermem({layer: (a.ssl_f, a.ssl_g) for layer, a in aligned.items()}, normalize=normalize,
                               clamp01=clamp01, subset=subset, k=k, seed=seed, rank_point=rank_point)

    # ---- merging, reuse and teardown -------------------------------------------------------

    @staticmethod
    def _shape(acc, field: str) -> int:
        return int(dict(acc.signature())[f"shape().{field}"]) if acc is not None else 0

    def all_reduce(self, group=None) -> None:
        """Merge every accumulator across the ranks of ``group`` (collective; see memloc.torch.all_reduce).

        A rank that recorded no batch at some layer (e.g. an empty shard) creates that layer's
        accumulators from another rank's shapes first, so every rank reduces the same buffers.
        """
        self._check_open("rec.all_reduce()")
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError("all_reduce needs torch.distributed initialised (torch.distributed.init_process_group)")
        # Per layer: [has units, units, positions, has alignment, features], agreed by MAX and MIN
        # with sentinels so that absent accumulators do not count as disagreement.
        big = torch.iinfo(torch.int64).max
        rows = []
        for layer in self.layers:
            u = self._unitmem.get(layer) or self._classmem.get(layer)
            a = self._alignment.get(layer)
            rows.append([u is not None, self._shape(u, "units"), self._shape(u, "positions"),
                         a is not None, self._shape(a, "features")])
        present = torch.tensor(rows, dtype=torch.int64).reshape(len(self.layers), 5)
        high = present.clone()
        low = present.clone()
        low[:, 1:3][present[:, 0] == 0] = big
        low[:, 4:5][present[:, 3] == 0] = big
        dist.all_reduce(high, op=dist.ReduceOp.MAX, group=group)
        dist.all_reduce(low, op=dist.ReduceOp.MIN, group=group)
        for i, layer in enumerate(self.layers):
            for has, columns, what in ((0, (1, 2), "units, positions"), (3, (4,), "features")):
                if int(high[i, has]) == 0:
                    continue
                if any(int(high[i, c]) != int(low[i, c]) for c in columns):
                    raise ValueError(f'rec.all_reduce(): layer "{layer}" has different {what} on different ranks '
                                     f"(max {[int(high[i, c]) for c in columns]}, min {[int(low[i, c]) for c in columns]}); "
                                     f"nothing was merged")
        for i, layer in enumerate(self.layers):
            if int(high[i, 0]) and layer not in self._unitmem and layer not in self._classmem:
                units, positions = int(high[i, 1]), int(high[i, 2])
                if self._want_unitmem:
                    self._unitmem[layer] = memloc.UnitMem(self.samples, units, views=self.views, positions=positions,
                                                          reduce=self._options["reduce"],
                                                          transform=self._options["transform"])
                if self.classes is not None:
                    self._classmem[layer] = memloc.ClassMem(self.samples, units, int(self.classes), views=self.views,
                                                            positions=positions, transform=self._options["transform"])
            if int(high[i, 3]) and layer not in self._alignment:
                self._alignment[layer] = memloc.Alignment(self.samples, self.views, int(high[i, 4]),
                                                          distance=self._options["distance"],
                                                          pairs=self._options["pairs"])
        for layer in self.layers:
            for accumulators in (self._unitmem, self._classmem, self._alignment):
                if layer in accumulators:
                    all_reduce(accumulators[layer], group=group)

    def reset(self) -> None:
        """Forget every folded sample (the hooks stay); ids of rec.step() start from 0 again."""
        self._check_open("rec.reset()")
        for accumulators in (self._unitmem, self._classmem, self._alignment):
            for acc in accumulators.values():
                acc.reset()
        self._batch = None
        self._next_id = 0

    def close(self) -> None:
        """Remove the hooks. Results stay readable; recording again needs a new Recorder."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._batch = None
        self._closed = True

    def __enter__(self) -> "Recorder":
        self._check_open("with Recorder")
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the hooks go with the modules anyway
            pass
