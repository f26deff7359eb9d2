"""memloc.torch: the Recorder's hooks against the one-shot functions on the same activations,
and all_reduce over gloo against one process folding everything."""

import multiprocessing
import os
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402

import memloc  # noqa: E402
from memloc.torch import Recorder, all_reduce  # noqa: E402

N, V, CLASSES = 12, 3, 4
LAYERS = ["conv1", "block.1", "fc"]  # a conv, a ReLU(inplace) after a conv, a linear layer


class SmallNet(torch.nn.Module):
    def __init__(self, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.conv1 = torch.nn.Conv2d(3, 6, 3, padding=1)
        # inplace ReLU after conv: overwrites conv1's output while g's forward is still to come
        self.act = torch.nn.ReLU(inplace=True)
        self.block = torch.nn.Sequential(torch.nn.Conv2d(6, 8, 3, stride=2, padding=1), torch.nn.ReLU(inplace=True))
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        x = self.act(self.conv1(x))
        x = self.block(x)
        return self.fc(torch.flatten(self.pool(x), 1))


def _images(seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(N, V, 3, 8, 8, generator=gen).to(dtype)  # [sample, view, C, H, W]


def _capture(model, layers, store):
    """Plain hooks that keep a copy of each output, the reference the recorder must match."""
    modules = dict(model.named_modules())
    return [modules[name].register_forward_hook(
        lambda m, i, o, name=name: store.setdefault(name, []).append(o.detach().clone())) for name in layers]


def _sorted_rows(chunks, batch_ids):
    """Concatenated batch activations [sum B*V, ...] reordered so that sample i is rows i*V..i*V+V-1."""
    acts = torch.cat(chunks).reshape(-1, V, *chunks[0].shape[1:])
    order = np.argsort(np.concatenate(batch_ids))
    return acts[torch.from_numpy(order)].reshape(-1, *chunks[0].shape[1:])


def _run_recorder(dtype=torch.float32, reduce="mean"):
    f, g = SmallNet(1).to(dtype), SmallNet(2).to(dtype)
    images = _images(dtype=dtype)
    labels = np.arange(N) % CLASSES
    order = np.random.default_rng(0).permutation(N)
    batches = [order[i:i + 4] for i in range(0, N, 4)]
    caught_f, caught_g = {}, {}
    handles = _capture(f, LAYERS, caught_f) + _capture(g, LAYERS, caught_g)
    rec = Recorder(f, g, layers=LAYERS, samples=N, views=V, classes=CLASSES, reduce=reduce)
    for b, ids in enumerate(batches):
        x = images[torch.from_numpy(ids)].reshape(-1, 3, 8, 8)
        if b % 2 == 0:
            rec.step(x, ids=ids, labels=labels[ids])
        else:  # a training-loop forward, with gradients, g before f
            with rec.batch(ids=torch.from_numpy(ids), labels=labels[ids]):
                g(x).sum()
                f(x.requires_grad_()).sum().backward()
    for h in handles:
        h.remove()
    acts_f = {n: _sorted_rows(caught_f[n], batches) for n in LAYERS}
    acts_g = {n: _sorted_rows(caught_g[n], batches) for n in LAYERS}
    return rec, acts_f, acts_g, labels


def _reference_layout(acts):
    return "(nv)" + "f" * (acts.ndim - 1)


@pytest.mark.parametrize("reduce", ["mean", "median"])
def test_recorder_equals_one_shot(reduce):
    rec, acts_f, acts_g, labels = _run_recorder(reduce=reduce)
    units, classes, layermem = rec.unitmem(), rec.classmem(), rec.layermem()
    assert list(units) == LAYERS and list(classes) == LAYERS and layermem.names == LAYERS
    points = {}
    for name in LAYERS:
        want = memloc.unitmem(acts_f[name], views=V, reduce=reduce)
        got = units[name]
        assert got.samples == N and got.units == want.units
        np.testing.assert_array_equal(got.argmax, want.argmax)
        for field in ("unitmem", "mu_max", "mu_rest"):
            np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=1e-12, atol=0)
        want_c = memloc.classmem(acts_f[name], labels, classes=CLASSES, views=V)
        np.testing.assert_array_equal(classes[name].max_class, want_c.max_class)
        np.testing.assert_allclose(classes[name].classmem, want_c.classmem, rtol=1e-12, atol=0)
        aligned = memloc.alignment(acts_f[name], acts_g[name], layout=_reference_layout(acts_f[name]), views=V)
        np.testing.assert_array_equal(rec.alignments()[name].ssl_f, aligned.ssl_f)
        np.testing.assert_array_equal(rec.alignments()[name].ssl_g, aligned.ssl_g)
        points[name] = (aligned.ssl_f, aligned.ssl_g)
    want_l = memloc.layermem(points)
    np.testing.assert_array_equal(layermem.layermem, want_l.layermem)
    np.testing.assert_array_equal(layermem.delta, want_l.delta)
    top = rec.layermem(subset="top", k=3)
    np.testing.assert_array_equal(top.subset, memloc.layermem(points, subset="top", k=3).subset)
    rec.close()


def test_hooks_removed_on_close():
    f, g = SmallNet(1), SmallNet(2)
    with Recorder(f, g, layers=LAYERS, samples=N, views=V) as rec:
        assert sum(len(m._forward_hooks) for m in f.modules()) == len(LAYERS)
        rec.step(_images()[:2].reshape(-1, 3, 8, 8))
    for model in (f, g):
        assert all(len(m._forward_hooks) == 0 for m in model.modules())
    f(_images()[:2].reshape(-1, 3, 8, 8))  # unhooked models run freely
    assert rec.unitmem()["fc"].samples == 2  # results outlive the hooks


def test_bf16_model():
    rec, acts_f, acts_g, _ = _run_recorder(dtype=torch.bfloat16)
    units = rec.unitmem()
    for name in LAYERS:
        assert acts_f[name].dtype == torch.bfloat16
        want = memloc.unitmem(acts_f[name], views=V)
        np.testing.assert_array_equal(units[name].argmax, want.argmax)
        np.testing.assert_allclose(units[name].unitmem, want.unitmem, rtol=1e-12, atol=0)
        aligned = memloc.alignment(acts_f[name], acts_g[name], layout=_reference_layout(acts_f[name]), views=V)
        np.testing.assert_array_equal(rec.alignments()[name].ssl_f, aligned.ssl_f)
    assert np.isfinite(rec.layermem().layermem).all()
    rec.close()


def test_errors_name_the_argument():
    f, g = SmallNet(1), SmallNet(2)
    x = _images()[:2].reshape(-1, 3, 8, 8)
    with pytest.raises(ValueError, match=r'layers: "conv9" is not a module of f .*conv1'):
        Recorder(f, g, layers=["conv9"], samples=N, views=V)
    with pytest.raises(ValueError, match=r'layers: "conv1" is not a module of g'):
        Recorder(f, torch.nn.Linear(2, 2), layers=["conv1"], samples=N, views=V)
    assert all(len(m._forward_hooks) == 0 for m in f.modules())  # nothing left from the failed attempt
    with pytest.raises(ValueError, match="g must be a different module"):
        Recorder(f, f, layers=LAYERS, samples=N, views=V)
    with pytest.raises(ValueError, match="views must be a positive integer"):
        Recorder(f, layers=LAYERS, samples=N, views=0)
    with pytest.raises(ValueError, match="alignment=True needs g"):
        Recorder(f, layers=LAYERS, samples=N, views=V, alignment=True)

    rec = Recorder(f, g, layers=LAYERS, samples=N, views=V)
    with pytest.raises(ValueError, match=r"ids: .* no batch ids set"):
        f(x)
    with rec.paused():
        f(x)  # unrecorded on purpose
    with pytest.raises(ValueError, match=r"ids: x holds 2 samples .* got 3 ids"):
        rec.step(x, ids=np.arange(3))
    with pytest.raises(ValueError, match=r"x: .* views=3"):
        rec.step(x[:5])
    with pytest.raises(ValueError, match="labels: given, but .* without classes"):
        rec.step(x, labels=np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="ids must be a 1-D array of integers"):
        rec.batch(ids=np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="alignment: .* g's forward never matched"):
        with rec.batch(ids=np.array([0, 1])):
            f(x)
    with pytest.raises(ValueError, match="ran twice for one batch"):
        with rec.batch(ids=np.array([2, 3])):
            f(x)
            f(x)
    with pytest.raises(ValueError, match=r"alignments: nothing was recorded"):
        rec.alignments()
    rec.close()
    with pytest.raises(ValueError, match="recorder is closed"):
        rec.step(x)
    with pytest.raises(ValueError, match="recorder is closed"):
        rec.batch(ids=np.array([0, 1]))

    with Recorder(f, layers=["fc"], samples=N, views=V, classes=CLASSES) as rec:
        with pytest.raises(ValueError, match="labels: the recorder counts ClassMem"):
            rec.step(x)
        with pytest.raises(ValueError, match=r"ids: .* holds 2 samples"):
            with rec.batch(ids=np.arange(3), labels=np.zeros(3, dtype=np.int64)):
                f(x)
        with pytest.raises(ValueError, match="classmem: nothing was recorded"):
            rec.classmem()

    tokens = torch.nn.Sequential(torch.nn.Unflatten(1, (4, 2)))
    with Recorder(tokens, layers=["0"], samples=N, views=V) as rec:
        with pytest.raises(ValueError, match=r"layout: .* 3-D tensor"):
            rec.step(torch.randn(2 * V, 8))
    with Recorder(tokens, layers=["0"], samples=N, views=V, layout="(nv)su") as rec:
        rec.step(torch.randn(2 * V, 8))  # tokens named by layout: 4 positions x 2 units
        assert rec.unitmem()["0"].units == 2

    with pytest.raises(TypeError, match="acc must be a memloc"):
        all_reduce(object())
    with pytest.raises(RuntimeError, match="init_process_group"):
        all_reduce(memloc.UnitMem(4, 2))


# ---- torch.distributed over gloo, two local processes ---------------------------------------

def _dist_data():
    rng = np.random.default_rng(7)
    acts = rng.standard_normal((N * V, 5, 3, 3)).astype(np.float32)
    reps_g = rng.standard_normal((N * V, 5, 3, 3)).astype(np.float32)
    labels = rng.integers(0, CLASSES, N)
    return acts, reps_g, labels


def _fold(ids_list):
    """Every accumulator kind (and both UnitMem storages) over the samples in ids_list's batches."""
    acts, reps_g, labels = _dist_data()
    accs = {"mean": memloc.UnitMem(N, 5, views=V, positions=9),
            "median": memloc.UnitMem(N, 5, views=V, positions=9, reduce="median"),
            "classmem": memloc.ClassMem(N, 5, CLASSES, views=V, positions=9),
            "alignment": memloc.Alignment(N, V, 45)}
    for ids in ids_list:
        rows = (ids[:, None] * V + np.arange(V)).reshape(-1)
        accs["mean"].update(acts[rows], ids=ids)
        accs["median"].update(acts[rows], ids=ids)
        accs["classmem"].update(acts[rows], labels[ids], ids=ids)
        accs["alignment"].update(acts[rows], reps_g[rows], ids=ids, layout="(nv)fff")
    return accs


def _results(accs, rec, rec_empty_shard):
    out = {}
    for kind in ("mean", "median"):
        r = accs[kind].finalize()
        out.update({f"{kind}_unitmem": r.unitmem, f"{kind}_argmax": r.argmax, f"{kind}_mu_max": r.mu_max})
    c = accs["classmem"].finalize()
    out.update(classmem=c.classmem, max_class=c.max_class)
    a = accs["alignment"].finalize()
    out.update(ssl_f=a.ssl_f, ssl_g=a.ssl_g)
    for prefix, r in (("rec", rec), ("rec_empty", rec_empty_shard)):
        out[f"{prefix}_layermem"] = r.layermem().layermem
        for name, u in r.unitmem().items():
            out[f"{prefix}_{name}_unitmem"] = u.unitmem
            out[f"{prefix}_{name}_argmax"] = u.argmax
    return out


def _recorders(shard_batches, empty):
    images = _images()
    # Separate copies: a recorder refuses forwards it was given no ids for, even another recorder's.
    rec = Recorder(SmallNet(1), SmallNet(2), layers=LAYERS, samples=N, views=V)
    rec_empty = Recorder(SmallNet(1), SmallNet(2), layers=LAYERS, samples=N, views=V)
    for ids in shard_batches:
        x = images[torch.from_numpy(ids)].reshape(-1, 3, 8, 8)
        rec.step(x, ids=ids)
    if not empty:
        for ids in np.array_split(np.arange(N), 3):
            rec_empty.step(images[torch.from_numpy(ids)].reshape(-1, 3, 8, 8), ids=ids)
    return rec, rec_empty


def _rank_main(rank, init_file, out_dir):
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    report = {}
    try:
        mine = [ids for ids in np.array_split(np.arange(N), 4)][rank::2]  # each rank folds half the ids
        accs = _fold(mine)
        rec, rec_empty = _recorders(mine, empty=(rank == 1))
        for acc in accs.values():
            all_reduce(acc)
        rec.all_reduce()
        rec_empty.all_reduce()  # rank 1 recorded nothing: it must create the accumulators first
        report = _results(accs, rec, rec_empty)
        # Maxima of both signs on the two ranks: an unsigned max done as a plain signed one
        # would pick the wrong rank's key for one of the units.
        signs = memloc.UnitMem(2, 2)
        signs.update(np.array([[-1.0, 2.0]]) if rank == 0 else np.array([[3.0, -4.0]]), ids=np.array([rank]))
        all_reduce(signs)
        merged = signs.finalize()
        report.update(signs_mu_max=merged.mu_max, signs_argmax=merged.argmax)
        for tag, acc in (("shape", memloc.UnitMem(N + rank, 5)), ("kind", memloc.UnitMem(N, 5) if rank == 0
                                                                  else memloc.Alignment(N, 2, 5))):
            try:
                all_reduce(acc)
                report[f"error_{tag}"] = np.array("no error")
            except ValueError as e:
                report[f"error_{tag}"] = np.array(str(e))
        dist.barrier()  # still in step after the refused merges
    finally:
        np.savez(os.path.join(out_dir, f"rank{rank}.npz"), **report)
        dist.destroy_process_group()


def test_all_reduce_gloo_two_ranks(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_rank_main, args=(r, str(tmp_path / "init"), str(tmp_path))) for r in range(2)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 60
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    hung = [p for p in procs if p.is_alive()]
    for p in hung:
        p.kill()
        p.join()
    assert not hung, "a rank hung in a collective"
    assert [p.exitcode for p in procs] == [0, 0]

    single = _results(_fold(np.array_split(np.arange(N), 4)), *_recorders(np.array_split(np.arange(N), 4), False))
    for rank in range(2):
        got = dict(np.load(tmp_path / f"rank{rank}.npz"))
        for key, want in single.items():
            if "argmax" in key or "max_class" in key or key.startswith("ssl") or key.startswith("median"):
                np.testing.assert_array_equal(got[key], want, err_msg=key)  # exact: one rank's value, zeros elsewhere
            else:
                np.testing.assert_allclose(got[key], want, rtol=1e-12, atol=0, err_msg=key)
        np.testing.assert_array_equal(got["signs_mu_max"], [3.0, 2.0])
        np.testing.assert_array_equal(got["signs_argmax"], [1, 0])
        assert 'differ in "shape().samples" (min 12, max 13)' in str(got["error_shape"])
        assert "number of signature fields" in str(got["error_kind"])


def test_bad_labels_fold_nothing_and_the_next_step_works():
    torch.manual_seed(3)
    f = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1))
    rec = Recorder(f, layers=["0"], samples=4, views=2, classes=2)
    with pytest.raises(ValueError, match=r"labels: classes must lie in \[0, classes=2\), got \[0, 5\]"):
        rec.step(torch.rand(4, 3, 5, 5), labels=[0, 5])
    rec.step(torch.rand(4, 3, 5, 5), labels=[0, 1])
    rec.step(torch.rand(4, 3, 5, 5), labels=[1, 0])
    assert rec.unitmem()["0"].samples == 4
    rec.close()
