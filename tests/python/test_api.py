"""The memloc package against the naive fp64 oracle (oracle.py), NumPy and SciPy, on random
data with odd shapes, and the spec's hand-computed vectors (spec §12)."""

import threading
import time

import numpy as np
import pytest
import scipy.stats

import memloc
import oracle

# μ is kept as an fp32 mean of fp32 partial sums (docs/metrics.md), as in the C++ test bodies.
MU = dict(rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# UnitMem
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("reduce", ["mean", "median"])
@pytest.mark.parametrize("kind", ["none", "relu", "abs"])
def test_unitmem_matches_oracle_on_odd_shapes(rng, reduce, kind):
    acts = rng.normal(0.5, 1.0, size=(13, 3, 7, 5))
    result = memloc.unitmem(acts, layout="nvus", reduce=reduce, transform=kind)
    score, top, argmax, rest = oracle.unitmem(acts, reduce, kind)
    np.testing.assert_allclose(result.unitmem, score, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(result.mu_max, top, **MU)
    np.testing.assert_array_equal(result.argmax, argmax)
    np.testing.assert_allclose(result.mu_rest, rest, **MU)
    assert result.samples == 13 and result.units == 7
    assert result.unitmem.dtype == np.float64 and result.argmax.dtype == np.int64


def test_unitmem_hand_vectors():
    # spec §12: one unit per row, N = 4 samples, one view and one position each.
    mu = np.array([[1, 0, 0, 0], [2, 2, 2, 2], [4, 1, 2, 3], [5, 1, 1, 4], [3, 3, 1, 1], [0, 0, 0, 0]], dtype=np.float64)
    acts = mu.T[:, None, :, None]  # [n=4, v=1, u=6, s=1]
    mean = memloc.unitmem(acts, layout="nvus")
    np.testing.assert_allclose(mean.unitmem, [1, 0, 1 / 3, 3 / 7, 2 / 7, 0], rtol=1e-15)
    np.testing.assert_array_equal(mean.argmax[4], 0)  # the tie goes to the first index
    median = memloc.unitmem(acts, layout="nvus", reduce="median")
    np.testing.assert_allclose(median.unitmem, [1, 0, 1 / 3, 2 / 3, 0.5, 0], rtol=1e-15)


@pytest.mark.parametrize("layout,make", [
    ("nvus", lambda a: a),
    ("vnus", lambda a: a.transpose(1, 0, 2, 3).copy()),
    ("nvsu", lambda a: a.transpose(0, 1, 3, 2).copy()),
    ("nvuhw", lambda a: a.reshape(a.shape[0], a.shape[1], a.shape[2], 2, 3)),
    ("nvhwu", lambda a: a.transpose(0, 1, 3, 2).reshape(a.shape[0], a.shape[1], 2, 3, a.shape[2]).copy()),
    ("(nv)uhw", lambda a: a.reshape(a.shape[0] * a.shape[1], a.shape[2], 2, 3)),
    ("(vn)us", lambda a: a.transpose(1, 0, 2, 3).reshape(a.shape[0] * a.shape[1], a.shape[2], 6).copy()),
])
def test_every_layout_reads_the_same_activations(rng, layout, make):
    acts = rng.random((5, 4, 3, 6))
    expected = memloc.unitmem(acts, layout="nvus")
    got = memloc.unitmem(make(acts), layout=layout, views=4)
    np.testing.assert_allclose(got.unitmem, expected.unitmem, rtol=1e-13)
    np.testing.assert_array_equal(got.argmax, expected.argmax)


def test_dense_layer_layout_nvu(rng):
    acts = rng.random((9, 2, 11))
    got = memloc.unitmem(acts, layout="nvu")
    np.testing.assert_allclose(got.unitmem, oracle.unitmem(acts[..., None])[0], **MU)


def test_default_layouts_for_hook_outputs(rng):
    acts = rng.random((6, 3, 4, 2, 2))  # 5-D: nvuhw
    expected = memloc.unitmem(acts, layout="nvuhw").unitmem
    np.testing.assert_allclose(memloc.unitmem(acts).unitmem, expected)
    nchw = acts.reshape(18, 4, 2, 2)  # a conv hook's [B*V, C, H, W]
    np.testing.assert_allclose(memloc.unitmem(nchw, views=3).unitmem, expected)
    linear = rng.random((12, 5))  # a linear hook's [B*V, U]
    np.testing.assert_allclose(memloc.unitmem(linear, views=2).unitmem, oracle.unitmem(linear.reshape(6, 2, 5, 1))[0],
                               **MU)


def test_accumulator_over_batches_equals_one_shot(rng):
    acts = rng.random((20, 3, 8, 4)).astype(np.float32)
    acc = memloc.UnitMem(20, 8, views=3, positions=4)
    order = rng.permutation(20)
    for chunk in np.array_split(order, 4):
        acc.update(acts[chunk], ids=chunk, layout="nvus")
    got = acc.finalize()
    expected = memloc.unitmem(acts, layout="nvus")
    np.testing.assert_allclose(got.unitmem, expected.unitmem, rtol=1e-12)
    np.testing.assert_array_equal(got.argmax, expected.argmax)


def test_ids_default_to_consecutive_numbers_and_reset_restarts_them(rng):
    acts = rng.random((10, 2, 3, 1))
    acc = memloc.UnitMem(10, 3, views=2)
    acc.update(acts[:4], layout="nvus")
    acc.update(acts[4:], layout="nvus")
    first = acc.finalize()
    np.testing.assert_allclose(first.unitmem, memloc.unitmem(acts, layout="nvus").unitmem, rtol=1e-12)
    acc.reset()
    acc.update(acts[:5], layout="nvus")
    acc.update(acts[5:], layout="nvus")
    np.testing.assert_allclose(acc.finalize().unitmem, first.unitmem, rtol=1e-12)


def test_merge_of_disjoint_halves(rng):
    acts = rng.random((16, 2, 5, 3))
    ids = np.arange(16)
    a = memloc.UnitMem(16, 5, views=2, positions=3)
    b = memloc.UnitMem(16, 5, views=2, positions=3)
    a.update(acts[::2], ids=ids[::2], layout="nvus")
    b.update(acts[1::2], ids=ids[1::2], layout="nvus")
    a.merge(b)
    expected = memloc.unitmem(acts, layout="nvus")
    np.testing.assert_allclose(a.finalize().unitmem, expected.unitmem, rtol=1e-12)


def test_state_buffers_are_the_accumulators_memory(rng):
    acc = memloc.UnitMem(6, 4, views=1)
    buffers = acc.state_buffers()
    assert [(b.name, b.reduction, b.array.dtype) for b in buffers] == [
        ("mu_sums", "sum", np.float64), ("mu_max_keys", "max", np.uint64), ("sample_folds", "sum", np.int32)]
    acc.update(rng.random((6, 1, 4, 1)), layout="nvus")
    assert buffers[2].array.tolist() == [1] * 6  # the arrays see the update: no copy
    names = [name for name, _ in acc.signature()]
    assert "shape().units" in names


# ---------------------------------------------------------------------------
# ClassMem, alignment, SSLMem, LayerMem
# ---------------------------------------------------------------------------

def test_classmem_matches_oracle(rng):
    acts = rng.random((17, 2, 6, 3))
    labels = rng.integers(0, 4, size=17)
    labels[:4] = np.arange(4)  # every class has a sample
    result = memloc.classmem(acts, labels, layout="nvus")
    score, top, max_class, rest = oracle.classmem(acts, labels)
    np.testing.assert_allclose(result.classmem, score, **MU)
    np.testing.assert_allclose(result.mu_max, top, **MU)
    np.testing.assert_array_equal(result.max_class, max_class)
    np.testing.assert_allclose(result.mu_rest, rest, **MU)
    assert result.classes_with_samples == 4


def test_classmem_accumulator_with_int32_labels(rng):
    acts = rng.random((12, 1, 3, 2)).astype(np.float32)
    labels = np.repeat(np.arange(3, dtype=np.int32), 4)
    acc = memloc.ClassMem(12, 3, 3, views=1, positions=2)
    acc.update(acts[:7], labels[:7], layout="nvus")
    acc.update(acts[7:], labels[7:], layout="nvus")
    np.testing.assert_allclose(acc.finalize().classmem, oracle.classmem(acts, labels)[0], **MU)


def test_alignment_and_sslmem_match_oracle(rng):
    f = rng.normal(size=(9, 4, 13))
    g = rng.normal(size=(9, 4, 13))
    got = memloc.alignment(f, g)
    np.testing.assert_allclose(got.ssl_f, oracle.alignment_l2(f), rtol=1e-12)
    np.testing.assert_allclose(got.ssl_g, oracle.alignment_l2(g), rtol=1e-12)
    scores = memloc.sslmem(f, g)
    np.testing.assert_allclose(scores, oracle.sslmem_ratio(got.ssl_f, got.ssl_g), rtol=1e-12)
    # From alignments directly, and the hand vector of spec §12.
    np.testing.assert_allclose(memloc.sslmem(np.array([0.2, 0.3]), np.array([0.6, 0.3])), [0.5, 0.0], rtol=1e-15)
    np.testing.assert_allclose(memloc.sslmem(np.array([0.0, 0.0, 0.2]), np.array([0.1, 0.3, 0.1]), normalize="range"),
                               [0.25, 0.75, -0.25], rtol=1e-12)


def test_alignment_feature_axes_are_flattened(rng):
    f = rng.normal(size=(5, 3, 2, 4, 4))
    g = rng.normal(size=(5, 3, 2, 4, 4))
    got = memloc.alignment(f, g)
    np.testing.assert_allclose(got.ssl_f, oracle.alignment_l2(f.reshape(5, 3, 32)), rtol=1e-12)
    hooked = memloc.alignment(f.reshape(15, 2, 4, 4), g.reshape(15, 2, 4, 4), layout="(nv)fff", views=3)
    np.testing.assert_allclose(hooked.ssl_g, got.ssl_g, rtol=1e-12)


def test_layermem_matches_numpy_and_the_hand_vector(rng):
    points = {}
    expected = []
    for name in ["conv1", "layer1", "layer2"]:
        f, g = rng.random((30, 3, 8)), rng.random((30, 3, 8))
        points[name] = (f, g)
        expected.append(oracle.sslmem_ratio(oracle.alignment_l2(f), oracle.alignment_l2(g)).mean())
    result = memloc.layermem(points)
    assert result.names == ["conv1", "layer1", "layer2"]
    np.testing.assert_allclose(result.layermem, expected, rtol=1e-12)
    assert np.isnan(result.delta[0])
    np.testing.assert_allclose(result.delta[1:], np.diff(expected), rtol=1e-10)
    np.testing.assert_array_equal(result.subset, np.arange(30))
    # Top-k subset ranked at a named point.
    top = memloc.layermem(points, subset="top", k=5, rank_point="layer1")
    ranking_scores = oracle.sslmem_ratio(result.ssl_f["layer1"], result.ssl_g["layer1"])
    np.testing.assert_array_equal(top.subset, np.argsort(-ranking_scores, kind="stable")[:5])


def test_layermem_from_alignments_gives_the_table_1_deltas():
    # spec §12: LayerMem [0.091, 0.123, 0.154, 0.183, 0.185] gives Δ [-, 0.032, 0.031, 0.029, 0.002].
    # Two samples whose Eq. 2 scores average to each LayerMem: ssl_f = 1 - s, ssl_g = 1 + s.
    targets = [0.091, 0.123, 0.154, 0.183, 0.185]
    points = {f"p{i}": (np.array([1 - s, 1 - s]), np.array([1 + s, 1 + s])) for i, s in enumerate(targets)}
    result = memloc.layermem(points)
    np.testing.assert_allclose(result.layermem, targets, rtol=1e-12)
    np.testing.assert_allclose(result.delta[1:], [0.032, 0.031, 0.029, 0.002], atol=1e-12)


# ---------------------------------------------------------------------------
# Analysis against NumPy and SciPy
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [7, 40, 301])
@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_kendall_tau_b_matches_scipy(rng, n, alternative):
    x = rng.integers(0, 10, size=n).astype(np.float64)  # ties
    y = x + rng.normal(size=n)
    got = memloc.kendall_tau_b(x, y, alternative=alternative)
    expected = scipy.stats.kendalltau(x, y, alternative=alternative)
    np.testing.assert_allclose(got.statistic, expected.statistic, rtol=1e-12)
    np.testing.assert_allclose(got.pvalue, expected.pvalue, rtol=1e-9)
    tau, p = got  # unpacks like SciPy's result
    assert tau == got.tau and p == got.pvalue and got.n == n


def test_kendall_tau_b_exact_small_n_without_ties(rng):
    x, y = rng.random(12), rng.random(12)
    got = memloc.kendall_tau_b(x, y)
    expected = scipy.stats.kendalltau(x, y)
    assert got.exact
    np.testing.assert_allclose([got.statistic, got.pvalue], [expected.statistic, expected.pvalue], rtol=1e-12)


@pytest.mark.parametrize("equal_var", [True, False])
@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_t_test_matches_scipy(rng, equal_var, alternative):
    a = rng.normal(0.1, 1.0, size=23)
    b = rng.normal(0.0, 2.0, size=31).astype(np.float32)
    got = memloc.t_test(a, b, equal_var=equal_var, alternative=alternative)
    expected = scipy.stats.ttest_ind(a, b.astype(np.float64), equal_var=equal_var, alternative=alternative)
    np.testing.assert_allclose(got.statistic, expected.statistic, rtol=1e-12)
    np.testing.assert_allclose(got.pvalue, expected.pvalue, rtol=1e-9)


def test_top_k_and_overlap(rng):
    scores = rng.random(50)
    scores[[3, 9]] = scores[5]  # ties go to the lower index
    np.testing.assert_array_equal(memloc.top_k(scores, 10), np.argsort(-scores, kind="stable")[:10])
    np.testing.assert_array_equal(memloc.top_k(scores, fraction=0.1, direction="least"),
                                  np.argsort(scores, kind="stable")[:5])
    # spec §12: top-3 sets {1, 2, 3} and {2, 3, 4} overlap in 2 of 3.
    a = np.array([0, 9, 8, 7, 0, 0], dtype=np.float64)
    b = np.array([0, 0, 9, 8, 7, 0], dtype=np.float64)
    overlap = memloc.top_k_overlap(a, b, 3)
    assert overlap.count == 2 and overlap.k == 3 and overlap.fraction == pytest.approx(2 / 3)
    matrix = memloc.top_k_overlap_matrix({"a": a, "b": b}, 3)
    np.testing.assert_array_equal(matrix.counts, [[3, 2], [2, 3]])


def test_pruning_selection_and_links(rng):
    layers = {"conv1": rng.random(10), "conv2": rng.random(20)}
    masks = memloc.pruning_masks(layers, fraction=0.2)
    for name, scores in layers.items():
        expected = np.zeros(len(scores), dtype=bool)
        expected[np.argsort(-scores, kind="stable")[: int(np.ceil(0.2 * len(scores)))]] = True
        np.testing.assert_array_equal(masks.masks[name], expected)
        np.testing.assert_array_equal(masks.units[name], np.flatnonzero(expected))
    chosen = memloc.select_layers({"a": 0.1, "b": 0.3, "c": 0.2}, 2)
    assert chosen.names == ["b", "c"]
    unitmem = rng.random(8)
    argmax = rng.integers(0, 5, size=8)
    sample_scores = rng.random(5)
    links = memloc.units_to_samples(unitmem, argmax, sample_scores, top_units=3)
    np.testing.assert_allclose(links.argmax_score, sample_scores[argmax])
    top = np.argsort(-unitmem, kind="stable")[:3]
    np.testing.assert_array_equal(links.top_units, top)
    np.testing.assert_array_equal(links.top_unit_count, np.bincount(argmax[top], minlength=5))


# ---------------------------------------------------------------------------
# The GIL
# ---------------------------------------------------------------------------

def test_the_gil_is_released_while_memloc_computes():
    # One update long enough to see from the main thread: with the GIL held it could not run
    # any Python until the call returned, so no tick could fall inside the call.
    acts = np.ones((256, 10, 64, 256), dtype=np.float32)  # 168 MB, tens of ms or more
    acc = memloc.UnitMem(256, 64, views=10, positions=256)
    window = {}

    def fold():
        window["start"] = time.perf_counter()
        acc.update(acts, layout="nvus")
        window["end"] = time.perf_counter()

    worker = threading.Thread(target=fold)
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.0005)
    worker.join()
    start, end = window["start"], window["end"]
    margin = 0.1 * (end - start)
    inside = [t for t in ticks if start + margin < t < end - margin]
    assert end - start > 0.005 and inside, (end - start, len(ticks))


def test_memloc_imports_and_computes_without_torch():
    # memloc.torch is the only part that needs PyTorch; `import memloc` must not pull it in.
    import subprocess
    import sys

    script = ("import sys; sys.modules['torch'] = None\n"
              "import numpy as np, memloc\n"
              "assert memloc.unitmem(np.ones((3, 1, 2, 1)) * np.arange(3)[:, None, None, None], layout='nvus').samples == 3\n"
              "try:\n"
              "    import memloc.torch\n"
              "except ImportError:\n"
              "    print('memloc.torch needs torch')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "memloc.torch needs torch" in done.stdout
