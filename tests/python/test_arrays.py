"""What the bindings accept: PyTorch tensors (contiguous, sliced, permuted, fp16, bf16) and
NumPy arrays read in place, and a clear error for everything else."""

import numpy as np
import pytest

import memloc
from memloc import _memloc

torch = pytest.importorskip("torch")

MU = dict(rtol=1e-5, atol=1e-5)


def reference(acts_nvus):
    return memloc.unitmem(np.ascontiguousarray(acts_nvus, dtype=np.float64), layout="nvus")


def test_contiguous_tensor_is_read_in_place():
    t = torch.rand(6, 3, 5, 4)
    assert _memloc._data_pointer(t) == t.data_ptr()
    got = memloc.unitmem(t, layout="nvus")
    np.testing.assert_allclose(got.unitmem, reference(t.numpy()).unitmem, **MU)


def test_sliced_and_permuted_tensors_are_read_in_place():
    base = torch.rand(6, 3, 10, 4)
    sliced = base[1:, :, ::2]  # strided units, offset start
    assert not sliced.is_contiguous()
    assert _memloc._data_pointer(sliced) == sliced.data_ptr()
    np.testing.assert_allclose(memloc.unitmem(sliced, layout="nvus").unitmem, reference(sliced.numpy()).unitmem, **MU)
    permuted = base.permute(0, 1, 3, 2)  # token-major view of the same memory
    assert _memloc._data_pointer(permuted) == base.data_ptr()
    np.testing.assert_allclose(memloc.unitmem(permuted, layout="nvsu").unitmem, reference(base.numpy()).unitmem, **MU)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_16_bit_tensors_are_read_natively_without_a_copy(dtype):
    t = torch.rand(8, 2, 6, 5).to(dtype)
    assert _memloc._data_pointer(t) == t.data_ptr()
    got = memloc.unitmem(t, layout="nvus")
    np.testing.assert_allclose(got.unitmem, reference(t.float().numpy()).unitmem, **MU)


def test_bf16_conv_hook_output_with_default_layout():
    nchw = torch.rand(12, 4, 3, 3).to(torch.bfloat16)  # 4 samples x 3 views, views adjacent
    got = memloc.unitmem(nchw, views=3)
    expected = reference(nchw.float().numpy().reshape(4, 3, 4, 9))
    np.testing.assert_allclose(got.unitmem, expected.unitmem, **MU)


def test_fortran_order_numpy_is_read_in_place(rng):
    acts = np.asfortranarray(rng.random((7, 2, 3, 4)))
    assert _memloc._data_pointer(acts) == acts.ctypes.data
    np.testing.assert_allclose(memloc.unitmem(acts, layout="nvus").unitmem, reference(acts).unitmem, **MU)


def test_alignment_of_bf16_torch_representations():
    f, g = torch.randn(5, 3, 16).to(torch.bfloat16), torch.randn(5, 3, 16).to(torch.bfloat16)
    got = memloc.alignment(f, g)
    expected = memloc.alignment(f.double().numpy(), g.double().numpy())
    np.testing.assert_allclose(got.ssl_f, expected.ssl_f, rtol=1e-5)


def test_kendall_and_t_test_take_tensors(rng):
    x, y = torch.rand(30, dtype=torch.float64), torch.rand(30)
    assert memloc.kendall_tau_b(x, y).statistic == pytest.approx(memloc.kendall_tau_b(x.numpy(), y.double().numpy())[0])
    assert memloc.t_test(x, y).statistic == pytest.approx(memloc.t_test(x.numpy(), y.double().numpy())[0])


# ---------------------------------------------------------------------------
# Errors: each names the argument, what was expected and what was given
# ---------------------------------------------------------------------------

def expect(error, *fragments):
    def check(call):
        with pytest.raises(error) as raised:
            call()
        for fragment in fragments:
            assert fragment in str(raised.value), (fragment, str(raised.value))
    return check


def test_integer_activations_are_refused():
    expect(TypeError, "acts dtype", "float32", "int64")(
        lambda: memloc.unitmem(np.ones((4, 1, 2, 1), dtype=np.int64), layout="nvus"))


def test_objects_that_are_not_arrays_are_refused():
    expect(TypeError, "acts must be an array", "list")(lambda: memloc.UnitMem(4, 2).update([[1.0, 2.0]], layout="nu"))
    expect(TypeError, "acts must be an array", "NoneType")(lambda: memloc.UnitMem(4, 2).update(None))
    expect(TypeError, "x must be an array", "str")(lambda: memloc.kendall_tau_b("abc", np.ones(3)))


def test_layout_errors_name_the_layout_and_the_problem(rng):
    acts = rng.random((4, 2, 3, 5))
    expect(ValueError, "layout", "names 4 axes, the array has 3")(lambda: memloc.unitmem(acts[0], layout="nvus"))
    expect(ValueError, "letters must be among n, v, u, s, h, w", "nvxs")(lambda: memloc.unitmem(acts, layout="nvxs"))
    expect(ValueError, "twice")(lambda: memloc.unitmem(acts, layout="nnus"))
    expect(ValueError, "has 3 axes", "layout=")(lambda: memloc.unitmem(acts[0]))
    expect(ValueError, "multiple of views (3)")(lambda: memloc.unitmem(rng.random((4, 3, 2, 2)), views=3))
    transposed = rng.random((4, 2, 3, 6, 5)).transpose(0, 1, 2, 4, 3)  # h and w swapped in memory
    expect(ValueError, "h and w must be readable as one positions axis")(
        lambda: memloc.unitmem(transposed, layout="nvuhw"))


def test_ids_out_of_range_and_repeated(rng):
    acc = memloc.UnitMem(4, 3, views=1)
    acts = rng.random((2, 1, 3, 1))
    expect(ValueError, "sample_ids", "4")(lambda: acc.update(acts, ids=np.array([0, 4]), layout="nvus"))
    expect(ValueError, "sample_ids")(lambda: acc.update(acts, ids=np.array([-1, 0]), layout="nvus"))
    expect(ValueError, "ids must be 1-D")(lambda: acc.update(acts, ids=np.zeros((2, 1), np.int64), layout="nvus"))
    expect(TypeError, "ids dtype", "float64")(lambda: acc.update(acts, ids=np.array([0.0, 1.0]), layout="nvus"))
    acc.update(acts, ids=np.array([0, 1]), layout="nvus")
    expect(ValueError, "sample")(lambda: acc.update(acts, ids=np.array([1, 2]), layout="nvus"))


def test_shape_and_option_errors(rng):
    expect(ValueError, "reduce must be one of", '"mean"', '"mode"')(lambda: memloc.UnitMem(4, 2, reduce="mode"))
    expect(ValueError, "transform must be one of")(lambda: memloc.UnitMem(4, 2, transform="tanh"))
    expect(ValueError, "units")(lambda: memloc.UnitMem(4, 0))
    acc = memloc.UnitMem(8, 3, views=2, positions=1)
    expect(ValueError, "3")(lambda: acc.update(rng.random((2, 2, 4, 1)), layout="nvus"))  # 4 units, expected 3
    expect(ValueError, "give exactly one of k", "both")(lambda: memloc.top_k(np.ones(4), 2, fraction=0.5))
    expect(ValueError, "alternative must be one of")(lambda: memloc.t_test(np.ones(3), np.ones(3), alternative="up"))
    expect(ValueError, "distance must be one of")(lambda: memloc.alignment(np.ones((2, 2, 2)), np.ones((2, 2, 2)),
                                                                          distance="l3"))
    expect(TypeError, "same dtype")(lambda: memloc.alignment(np.ones((2, 2, 2)), np.ones((2, 2, 2), np.float32)))
    expect(ValueError, "rank_point", "p9")(lambda: memloc.layermem({"p0": (np.ones(2), np.ones(2))}, rank_point="p9"))
    expect(TypeError, "points must be a mapping")(lambda: memloc.layermem([np.ones(2)]))


def test_finalize_before_enough_samples_is_an_error(rng):
    acc = memloc.UnitMem(4, 2)
    expect(ValueError, "finalize")(acc.finalize)


def test_negative_strides_are_refused_with_a_message(rng):
    acts = rng.random((5, 1, 3, 1))[::-1]
    with pytest.raises((ValueError, TypeError)) as raised:
        memloc.unitmem(acts, layout="nvus")
    assert "acts axis 0 has stride -3 (a reversed view)" in str(raised.value)


def test_merge_of_different_shapes_is_an_error():
    expect(ValueError, "merge")(lambda: memloc.UnitMem(4, 2).merge(memloc.UnitMem(4, 3)))


# ---------------------------------------------------------------------------
# Found in review: threads, producers that export a fresh copy, failed updates
# ---------------------------------------------------------------------------

def test_two_threads_folding_into_one_accumulator(rng):
    import threading

    x = rng.random((2000, 64)).astype(np.float32)
    shared = memloc.UnitMem(2000, 64)

    def fold(first, step):
        for s in range(first, first + 1000, step):
            shared.update(x[s:s + step], ids=np.arange(s, s + step, dtype=np.int32), layout="(nv)u")

    threads = [threading.Thread(target=fold, args=(0, 8)), threading.Thread(target=fold, args=(1000, 10))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = memloc.unitmem(x, layout="(nv)u")
    got = shared.finalize()
    np.testing.assert_allclose(got.unitmem, expected.unitmem, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(got.argmax, expected.argmax)


class FreshExport:
    """A producer whose every export is a new copy, freed once the consumer lets it go."""

    def __init__(self, array):
        self.array = array

    def __dlpack_device__(self):
        return (1, 0)

    def __dlpack__(self, stream=None):
        return self.array.copy().__dlpack__()


def test_an_export_stays_alive_while_memloc_reads_it(rng):
    ref = rng.random((64, 1 << 14), dtype=np.float32)
    fresh = memloc.UnitMem(64, 1 << 14)
    fresh.update(FreshExport(ref), layout="(nv)u")
    np.testing.assert_array_equal(fresh.finalize().unitmem, memloc.unitmem(ref, layout="(nv)u").unitmem)


def test_a_failed_update_numbers_no_ids(rng):
    acc = memloc.UnitMem(4, 3)
    with pytest.raises(ValueError):
        acc.update(np.zeros((2, 3), np.float32)[:, ::-1], layout="(nv)u")
    with pytest.raises(ValueError):
        acc.update(np.zeros((2, 4), np.float32), layout="(nv)u")  # 4 units, expected 3
    acc.update(rng.random((4, 3)).astype(np.float32), layout="(nv)u")  # ids 0..3, not 2..5 or 4..7
    assert acc.finalize().samples == 4


def test_errors_say_how_the_batch_was_read():
    acc = memloc.UnitMem(4, 3, positions=4)  # views=1 forgotten for a [B*V, C, H, W] batch
    expect(ValueError, "read through layout \"(nv)uhw\" as 8 samples x 1 views x 3 units x 4 positions")(
        lambda: acc.update(torch.rand(8, 3, 2, 2)))


def test_float_label_lists_and_mixed_ranks_are_refused(rng):
    acc = memloc.ClassMem(4, 3, 2)
    expect(TypeError, "labels must hold integers, got float64")(
        lambda: acc.update(rng.random((4, 1, 3, 1)), [0, 1, 1, 0.5], layout="nvus"))
    expect(ValueError, "f and g must have the same shape")(
        lambda: memloc.Alignment(4, 2, 3).update(rng.random((4, 2, 3)), rng.random((8, 3))))
    expect(ValueError, "seed must be an integer >= 0")(
        lambda: memloc.layermem({"p": (np.ones(2), np.ones(2))}, seed=-1))
