"""The CUDA accumulators from Python: device arrays in, device results out, equal to the host
backend. Runs on memloc's emulation of CUDA on every commit (CTest python_cuda_emulated, the
module of build/python-emulated) and on a GPU where the module was built with CUDA and a device
is present. Device inputs come from the module's own copy to the device, a DLPack producer of
CUDA memory that needs no framework with a GPU; where PyTorch has CUDA, its tensors are used too."""

import numpy as np
import pytest

import memloc
from memloc import _memloc

if not memloc.cuda_backend or _memloc.device_count() == 0:
    pytest.skip("memloc was built without its CUDA backend, or no CUDA device is present", allow_module_level=True)

MU = dict(rtol=1e-5, atol=1e-5)


def to_device(array):
    return _memloc._to_device(np.ascontiguousarray(array))


def to_host(array):
    return memloc._to_numpy(array)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_device_arrays_are_cuda_memory(rng):
    d = to_device(rng.random((3, 4)))
    assert tuple(int(v) for v in d.__dlpack_device__()) == (2, 0)
    np.testing.assert_array_equal(to_host(d).shape, (3, 4))


@pytest.mark.parametrize("reduce", ["mean", "median"])
def test_one_shot_unitmem_on_the_device_equals_the_host(rng, reduce):
    acts = rng.random((7, 3, 5, 4)).astype(np.float32)
    host = memloc.unitmem(acts, layout="nvus", reduce=reduce)
    device = memloc.unitmem(to_device(acts), layout="nvus", reduce=reduce)
    assert tuple(int(v) for v in device.unitmem.__dlpack_device__()) == (2, 0)
    np.testing.assert_allclose(to_host(device.unitmem), host.unitmem, **MU)
    np.testing.assert_array_equal(to_host(device.argmax), host.argmax)
    np.testing.assert_allclose(to_host(device.mu_max), host.mu_max, **MU)
    np.testing.assert_allclose(to_host(device.mu_rest), host.mu_rest, **MU)
    assert device.samples == host.samples == 7


def test_layouts_and_16_bit_inputs_on_the_device(rng):
    torch = pytest.importorskip("torch")
    acts = torch.rand(6, 2, 3, 4).to(torch.bfloat16)
    host = memloc.unitmem(acts, layout="nvus")
    device = memloc.unitmem(_memloc._to_device(acts), layout="nvus")
    np.testing.assert_allclose(to_host(device.unitmem), host.unitmem, **MU)
    token_major = acts.permute(0, 1, 3, 2).contiguous().half()
    device = memloc.unitmem(_memloc._to_device(token_major), layout="nvsu")
    np.testing.assert_allclose(to_host(device.unitmem), memloc.unitmem(token_major, layout="nvsu").unitmem, **MU)


def test_accumulator_on_the_device_over_batches_with_host_and_device_ids(rng):
    acts = rng.random((12, 2, 4, 3)).astype(np.float32)
    acc = memloc.UnitMem(12, 4, views=2, positions=3, device="cuda")
    assert acc.device == "cuda:0"
    order = rng.permutation(12)
    acc.update(to_device(acts[order[:5]]), ids=order[:5], layout="nvus")  # host ids, staged
    acc.update(to_device(acts[order[5:]]), ids=to_device(order[5:].astype(np.int64)), layout="nvus")  # device ids
    got = acc.finalize()
    expected = memloc.unitmem(acts, layout="nvus")
    np.testing.assert_allclose(to_host(got.unitmem), expected.unitmem, **MU)
    np.testing.assert_array_equal(to_host(got.argmax), expected.argmax)
    acc.reset()
    acc.update(to_device(acts), layout="nvus")  # consecutive ids from 0 again
    np.testing.assert_allclose(to_host(acc.finalize().unitmem), expected.unitmem, **MU)


def test_merge_and_state_buffers_on_the_device(rng):
    acts = rng.random((10, 1, 3, 2)).astype(np.float32)
    a = memloc.UnitMem(10, 3, positions=2, device="cuda")
    b = memloc.UnitMem(10, 3, positions=2, device="cuda")
    a.update(to_device(acts[:6]), ids=np.arange(6), layout="nvus")
    b.update(to_device(acts[6:]), ids=np.arange(6, 10), layout="nvus")
    a.merge(b)
    np.testing.assert_allclose(to_host(a.finalize().unitmem), memloc.unitmem(acts, layout="nvus").unitmem, **MU)
    buffers = a.state_buffers()
    assert [b.name for b in buffers] == [b.name for b in memloc.UnitMem(10, 3, positions=2).state_buffers()]
    for buffer in buffers:
        assert tuple(int(v) for v in buffer.array.__dlpack_device__()) == (2, 0)
    folds = to_host(buffers[-1].array)
    assert folds.tolist() == [1] * 10


def test_classmem_and_alignment_on_the_device(rng):
    acts = rng.random((9, 2, 3, 2)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    host = memloc.classmem(acts, labels, layout="nvus")
    device = memloc.classmem(to_device(acts), labels, layout="nvus")
    np.testing.assert_allclose(to_host(device.classmem), host.classmem, **MU)
    np.testing.assert_array_equal(to_host(device.max_class), host.max_class)
    f, g = rng.normal(size=(5, 3, 8)).astype(np.float32), rng.normal(size=(5, 3, 8)).astype(np.float32)
    host_alignment = memloc.alignment(f, g)
    device_alignment = memloc.alignment(to_device(f), to_device(g))
    np.testing.assert_allclose(to_host(device_alignment.ssl_f), host_alignment.ssl_f, rtol=1e-5)
    np.testing.assert_allclose(memloc.sslmem(to_device(f), to_device(g)), memloc.sslmem(f, g), rtol=1e-5)
    points = {"a": (to_device(f), to_device(g)), "b": (to_device(g), to_device(f))}
    np.testing.assert_allclose(memloc.layermem(points).layermem, memloc.layermem({"a": (f, g), "b": (g, f)}).layermem,
                               rtol=1e-5)


def test_device_errors_name_the_argument(rng):
    acc = memloc.UnitMem(4, 2, device="cuda")
    with pytest.raises(TypeError, match="on the host but this accumulator is on cuda:0"):
        acc.update(rng.random((2, 1, 2, 1)), layout="nvus")
    host_acc = memloc.UnitMem(4, 2)
    with pytest.raises(TypeError, match="on cuda:0 but this accumulator is on cpu"):
        host_acc.update(to_device(rng.random((2, 1, 2, 1))), layout="nvus")
    with pytest.raises(TypeError, match="ids on the device must be 1-D int64"):
        acc.update(to_device(rng.random((2, 1, 2, 1))), ids=to_device(np.array([0, 1], np.int32)), layout="nvus")
    with pytest.raises(ValueError, match="layout"):
        acc.update(to_device(rng.random((2, 1, 2, 1))), layout="nvu")
    with pytest.raises(ValueError, match="device must be"):
        memloc.UnitMem(4, 2, device="tpu")


def test_a_bad_device_id_is_reported_by_finalize(rng):
    acc = memloc.UnitMem(4, 2, device="cuda")
    acc.update(to_device(rng.random((2, 1, 2, 1)).astype(np.float32)), ids=np.array([0, 9]), layout="nvus")
    with pytest.raises(ValueError, match="sample"):
        acc.finalize()


def test_torch_cuda_tensors_come_back_as_torch_tensors(rng):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch has no CUDA device here")
    acts = torch.rand(8, 2, 4, 3, device="cuda")
    got = memloc.unitmem(acts, layout="nvus")
    assert isinstance(got.unitmem, torch.Tensor) and got.unitmem.is_cuda
    np.testing.assert_allclose(got.unitmem.cpu().numpy(), memloc.unitmem(acts.cpu(), layout="nvus").unitmem, **MU)


def test_calls_on_different_streams_are_ordered(rng):
    # Each update on its own non-blocking stream: without the accumulator ordering each call
    # after the previous one, the emulation reports the state written from two streams unordered.
    acts = rng.random((8, 2, 3, 2)).astype(np.float32)
    streams = [_memloc._stream_create(0) for _ in range(3)]
    try:
        acc = memloc.UnitMem(8, 3, views=2, positions=2, device="cuda")
        for i, stream in enumerate(streams[:2]):
            acc._stream = stream  # what the current stream of a framework would be
            batch = _memloc._to_device(np.ascontiguousarray(acts[4 * i:4 * i + 4]), 0, stream)  # produced on it
            acc._impl.update(batch, np.arange(4 * i, 4 * i + 4), "nvus", stream)
        result = acc._impl.finalize(stream=streams[2])
        np.testing.assert_allclose(to_host(result["unitmem"]), memloc.unitmem(acts, layout="nvus").unitmem, **MU)
    finally:
        for stream in streams:
            _memloc._stream_destroy(0, stream)


def test_merge_across_devices_is_refused(rng):
    with pytest.raises(ValueError, match=r"other must live on this accumulator's device \(cuda:0\), got cpu"):
        memloc.UnitMem(4, 2, device="cuda").merge(memloc.UnitMem(4, 2))


def test_device_results_feed_the_host_functions(rng):
    f, g = to_device(rng.random((4, 2, 3))), to_device(rng.random((4, 2, 3)))
    r = memloc.alignment(f, g)  # DLPack device arrays without .ndim
    np.testing.assert_allclose(memloc.sslmem(r.ssl_f, r.ssl_g), memloc.sslmem(to_host(f), to_host(g)), rtol=1e-12)
