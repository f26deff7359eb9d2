#pragma once

// Every argument check of the public API, one CHECK per check: the error type, and a
// message naming the argument and the expected and actual values.

#include "alignment_bodies.hpp"
#include "classmem_bodies.hpp"

// Checks that `expr` throws memloc::logic_error whose message contains `text`.
#define CHECK_MEMLOC_ERROR(expr, text) CHECK_THROWS_WITH_AS(expr, doctest::Contains(text), memloc::logic_error)

namespace testing {

// A bad id or label, or a sample folded twice: on the host, update rejects it and changes
// nothing, so `acc` stays usable; on the device it is found by the kernels and raised by the
// next finalize, which needs a fresh accumulator since the error poisons the state.
template <class B, class Acc, class Make, class Update, class Finalize>
void check_index_error(Acc& acc, Make make, Update update, Finalize finalize, const char* host_text,
                       const char* device_text) {
  if constexpr (B::checks_indices_on_device) {
    auto fresh = make();
    update(fresh);
    CHECK_MEMLOC_ERROR(finalize(fresh), device_text);
  } else {
    CHECK_MEMLOC_ERROR(update(acc), host_text);
  }
}

TEST_CASE_TEMPLATE_DEFINE("validation: unitmem accumulator construction", B, validation_unitmem_construct) {
  using memloc::unitmem_accumulator;
  using memloc::unitmem_shape;
  const auto x = B::exec();
  CHECK_MEMLOC_ERROR(unitmem_accumulator(x, unitmem_shape{0, 4, 2, 1}), "samples (size of the id space) must be in [1, 4294967294], got 0");
  CHECK_MEMLOC_ERROR(unitmem_accumulator(x, unitmem_shape{index_t{1} << 33, 4, 2, 1}), "got 8589934592");
  CHECK_MEMLOC_ERROR(unitmem_accumulator(x, unitmem_shape{10, 0, 2, 1}), "shape.units must be > 0, got 0");
  CHECK_MEMLOC_ERROR(unitmem_accumulator(x, unitmem_shape{10, 4, 0, 1}), "shape.views must be > 0, got 0");
  CHECK_MEMLOC_ERROR(unitmem_accumulator(x, unitmem_shape{10, 4, 2, -3}), "shape.positions must be > 0, got -3");
  CHECK_MEMLOC_ERROR(unitmem_accumulator(x, unitmem_shape{10, 4, 2, 1},
                                         {memloc::rest_reduction::median, memloc::activation_transform::none,
                                          memloc::unitmem_storage::per_unit}),
                     "options.storage must be automatic or per_sample for the median variant, got per_unit");
  CHECK_MEMLOC_ERROR(unitmem_accumulator(x, unitmem_shape{10, 4, 2, 1}, {static_cast<memloc::rest_reduction>(7)}),
                     "options.rest must be a named enumerator in [0, 1], got 7");
  CHECK_MEMLOC_ERROR(unitmem_accumulator(x, unitmem_shape{10, 4, 2, 1},
                                         {memloc::rest_reduction::mean, static_cast<memloc::activation_transform>(-1)}),
                     "options.transform must be a named enumerator in [0, 2], got -1");
  CHECK_MEMLOC_ERROR(unitmem_accumulator(x, unitmem_shape{10, 4, 2, 1},
                                         {memloc::rest_reduction::mean, memloc::activation_transform::none,
                                          static_cast<memloc::unitmem_storage>(3)}),
                     "options.storage must be a named enumerator in [0, 2], got 3");
  CHECK_MEMLOC_ERROR(unitmem_accumulator(x, unitmem_shape{index_t{1} << 30, index_t{1} << 12, 2, 1},
                                         {memloc::rest_reduction::median}),
                     "shape.samples * shape.units (per_sample state) must be at most 1099511627776, got 1073741824 * 4096");
  CHECK_MEMLOC_ERROR(unitmem_accumulator(x, unitmem_shape{10, index_t{1} << 40, 2, index_t{1} << 10}),
                     "shape.units * shape.positions must be at most 281474976710656, got 1099511627776 * 1024");
  CHECK_MEMLOC_ERROR(unitmem_accumulator(x, unitmem_shape{10, 4, index_t{1} << 40, index_t{1} << 10}),
                     "shape.views * shape.positions must be at most 281474976710656, got 1099511627776 * 1024");
}

TEST_CASE_TEMPLATE_DEFINE("validation: unitmem update, merge and finalize", B, validation_unitmem_use) {
  const auto x = B::exec();
  typename B::arena mem;
  const memloc::unitmem_shape shape{10, 3, 2, 4};
  std::vector<float> data(static_cast<std::size_t>(5 * 2 * 3 * 4), 1.0f);
  auto good = mem.place(data, memloc::nchw_sample_major(data.data(), 5, 2, 3, 1, 4));
  std::vector<std::int64_t> ids{0, 1, 2, 3, 4};
  auto id_view = mem.place(ids, memloc::make_vector_view(ids.data(), 5));
  memloc::unitmem_accumulator acc(x, shape);
  auto with = [&](std::array<index_t, 4> extents, std::array<index_t, 4> strides) {
    return mem.place(data, memloc::activations_view<float>(data.data(), extents, strides));
  };
  const std::array<index_t, 4> dense_strides{24, 12, 4, 1};
  CHECK_MEMLOC_ERROR(acc.update(x, with({5, 2, 3, -4}, dense_strides), id_view), "batch extent(3) must be >= 0, got -4");
  CHECK_MEMLOC_ERROR(acc.update(x, with({5, 2, 3, 4}, {24, 12, -4, 1}), id_view), "batch stride(2) must be >= 0, got -4");
  CHECK_MEMLOC_ERROR(acc.update(x, memloc::activations_view<float, typename B::space>(nullptr, {5, 2, 3, 4}), id_view),
                     "batch data_handle() must be non-null for 120 elements, got nullptr");
  CHECK_MEMLOC_ERROR(acc.update(x, with({5, 2, 3, 4}, {index_t{1} << 62, 12, 4, 1}), id_view),
                     "batch largest element offset must fit in int64");
  CHECK_MEMLOC_ERROR(acc.update(x, with({5, 2, 2, 4}, dense_strides), id_view), "batch extent(2) (units) must be 3, got 2");
  CHECK_MEMLOC_ERROR(acc.update(x, with({5, 2, 3, 2}, dense_strides), id_view), "batch extent(3) (positions) must be 4, got 2");
  CHECK_MEMLOC_ERROR(acc.update(x, with({5, 1, 3, 4}, dense_strides), id_view),
                     "batch extent(1) (views: per_unit storage needs every view of a sample in its batch) must be 2, got 1");
  CHECK_MEMLOC_ERROR(acc.update(x, with({4, 2, 3, 4}, dense_strides), id_view),
                     "sample_ids extent(0) (one id per batch sample) must be 4, got 5");
  auto out = mem.template output<double>(3);
  using outputs = memloc::unitmem_outputs<typename B::space>;
  auto make = [&] { return memloc::unitmem_accumulator(x, shape); };
  auto finalize = [&](auto& a) { return a.finalize(x, outputs{out.view()}); };
  std::vector<std::int64_t> bad_ids{0, 1, 10, 3, 4};
  auto with_bad_ids = [&](auto& a) { a.update(x, good, mem.place(bad_ids, memloc::make_vector_view(bad_ids.data(), 5))); };
  check_index_error<B>(acc, make, with_bad_ids, finalize, "sample_ids(2) must be in [0, 10), got 10",
                       "(batch 1, found on the device): sample_ids(2) must be in [0, 10), got 10");
  bad_ids[2] = -1;
  check_index_error<B>(acc, make, with_bad_ids, finalize, "sample_ids(2) must be in [0, 10), got -1",
                       "sample_ids(2) must be in [0, 10), got -1");
  bad_ids[2] = 1;
  check_index_error<B>(acc, make, with_bad_ids, finalize, "sample_ids must be distinct within a batch, got 1 twice",
                       "got sample id 1 folded 2 times");
  if constexpr (std::is_same_v<decltype(x), const memloc::host_exec>) {
    CHECK_MEMLOC_ERROR(acc.update(memloc::host_exec{-2}, good, id_view), "exec.threads must be >= 0 (0 leaves the count to OpenMP), got -2");
  }
  acc.update(x, good, id_view);
  check_index_error<B>(
      acc,
      [&] {
        auto a = make();
        a.update(x, good, id_view);
        return a;
      },
      [&](auto& a) { a.update(x, good, id_view); }, finalize,
      "sample_ids(0) = 0 was already folded; each sample must be folded once", "got sample id 0 folded 2 times");

  // Finalize outputs.
  auto short_out = mem.template output<double>(2);
  auto ids_out = mem.template output<std::int64_t>(4);
  CHECK_MEMLOC_ERROR(acc.finalize(x, outputs{short_out.view()}), "out.unitmem extent(0) (elements) must be 3, got 2");
  CHECK_MEMLOC_ERROR(acc.finalize(x, outputs{}), "out.unitmem extent(0) (elements) must be 3, got 0");
  CHECK_MEMLOC_ERROR(acc.finalize(x, outputs{out.view(), short_out.view()}), "out.mu_max extent(0) (elements) must be 3, got 2");
  CHECK_MEMLOC_ERROR(acc.finalize(x, outputs{out.view(), {}, ids_out.view()}), "out.argmax extent(0) (elements) must be 3, got 4");
  CHECK_MEMLOC_ERROR(acc.finalize(x, outputs{out.view(), {}, {}, short_out.view()}),
                     "out.mu_rest extent(0) (elements) must be 3, got 2");
  auto wide = mem.template output<double>(6);
  const memloc::vector_view<double, typename B::space> strided(wide.view().data_handle(), {3}, {2});
  CHECK_MEMLOC_ERROR(acc.finalize(x, outputs{strided}), "out.unitmem stride(0) must be 1, got 2");
  CHECK(acc.finalize(x, outputs{out.view()}).samples == 5);

  // Fewer than two samples.
  memloc::unitmem_accumulator lonely(x, shape);
  std::vector<std::int64_t> one_id{7};
  lonely.update(x, with({1, 2, 3, 4}, dense_strides), mem.place(one_id, memloc::make_vector_view(one_id.data(), 1)));
  CHECK_MEMLOC_ERROR(lonely.finalize(x, outputs{out.view()}), "folded samples must be >= 2 (mu_rest averages the other samples), got 1");

  // Merging.
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::unitmem_accumulator(x, memloc::unitmem_shape{11, 3, 2, 4})),
                     "other.shape().samples must be 10, got 11");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::unitmem_accumulator(x, memloc::unitmem_shape{10, 2, 2, 4})),
                     "other.shape().units must be 3, got 2");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::unitmem_accumulator(x, memloc::unitmem_shape{10, 3, 3, 4})),
                     "other.shape().views must be 2, got 3");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::unitmem_accumulator(x, memloc::unitmem_shape{10, 3, 2, 5})),
                     "other.shape().positions must be 4, got 5");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::unitmem_accumulator(x, shape, {memloc::rest_reduction::median})),
                     "other.options().rest must be mean, got median");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::unitmem_accumulator(x, shape, {memloc::rest_reduction::mean, memloc::activation_transform::relu})),
                     "other.options().transform must be none, got relu");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::unitmem_accumulator(x, shape, {memloc::rest_reduction::mean, memloc::activation_transform::none,
                                                                          memloc::unitmem_storage::per_sample})),
                     "other.storage() must be per_unit, got per_sample");
  memloc::unitmem_accumulator overlapping(x, shape);
  std::vector<std::int64_t> overlap_ids{9, 8, 7, 6, 4};
  overlapping.update(x, good, mem.place(overlap_ids, memloc::make_vector_view(overlap_ids.data(), 5)));
  CHECK_MEMLOC_ERROR(acc.merge(x, overlapping), "other must hold samples this accumulator has not folded, got sample id 4 in both");

  // A sample folded on two ranks whose states were all-reduced outside memloc: every
  // buffer merged with its own reduction, as MPI or NCCL would.
  memloc::unitmem_accumulator rank0(x, shape), rank1(x, shape);
  rank0.update(x, good, id_view);
  rank1.update(x, good, id_view);
  auto b0 = rank0.state_buffers();
  auto b1 = rank1.state_buffers();
  REQUIRE(b0.size() == 3);
  for (std::size_t i = 0; i < b0.size(); ++i) {
    REQUIRE(b0[i].count == b1[i].count);
    // Brought to the host (the buffers are device memory on a device backend), reduced, put back.
    const std::size_t bytes = b0[i].count * memloc::state_element_bytes(b0[i].element);
    std::vector<unsigned char> mine_raw(bytes), theirs_raw(bytes);
    mem.read_raw(mine_raw.data(), b0[i].data, bytes);
    mem.read_raw(theirs_raw.data(), b1[i].data, bytes);
    void* mine_data = mine_raw.data();
    const void* theirs_data = theirs_raw.data();
    for (std::size_t k = 0; k < b0[i].count; ++k) {
      switch (b0[i].element) {
        case memloc::state_element::f64: static_cast<double*>(mine_data)[k] += static_cast<const double*>(theirs_data)[k]; break;
        case memloc::state_element::f32: static_cast<float*>(mine_data)[k] += static_cast<const float*>(theirs_data)[k]; break;
        case memloc::state_element::i64:
          static_cast<std::int64_t*>(mine_data)[k] += static_cast<const std::int64_t*>(theirs_data)[k];
          break;
        case memloc::state_element::i32:
          static_cast<std::int32_t*>(mine_data)[k] += static_cast<const std::int32_t*>(theirs_data)[k];
          break;
        case memloc::state_element::u64: {
          REQUIRE(b0[i].reduction == memloc::state_reduction::max);
          auto* mine = static_cast<std::uint64_t*>(mine_data) + k;
          *mine = std::max(*mine, static_cast<const std::uint64_t*>(theirs_data)[k]);
          break;
        }
      }
    }
    mem.write_raw(b0[i].data, mine_raw.data(), bytes);
  }
  CHECK_MEMLOC_ERROR(rank0.finalize(x, outputs{out.view()}), "got sample id 0 folded 2 times");
  CHECK_MEMLOC_ERROR(rank1.merge(x, rank1), "other must be a different accumulator, got this one");

  // Outputs that share memory would overwrite each other.
  auto pair_out = mem.template output<double>(4);
  const memloc::vector_view<double, typename B::space> first3(pair_out.view().data_handle(), {3});
  const memloc::vector_view<double, typename B::space> last3(pair_out.view().data_handle() + 1, {3});
  CHECK_MEMLOC_ERROR(rank1.finalize(x, outputs{first3, {}, {}, last3}),
                     "out.unitmem and out.mu_rest must not share memory, got overlapping buffers");

  // Ids of any integer type are read as ids.
  std::vector<long long> long_ids{5, 6, 7, 8, 9};
  std::vector<std::int32_t> int_ids{5, 6, 7, 8, 9};
  memloc::unitmem_accumulator with_long(x, shape), with_int(x, shape);
  with_long.update(x, good, mem.place(long_ids, memloc::make_vector_view(long_ids.data(), 5)));
  with_int.update(x, good, mem.place(int_ids, memloc::make_vector_view(int_ids.data(), 5)));
  with_long.merge(x, rank1);
  CHECK(with_long.finalize(x, outputs{out.view()}).samples == 10);
  std::vector<std::int32_t> bad_int_ids{5, 6, 70, 8, 9};
  check_index_error<B>(
      with_int, make, [&](auto& a) { a.update(x, good, mem.place(bad_int_ids, memloc::make_vector_view(bad_int_ids.data(), 5))); },
      finalize, "sample_ids(2) must be in [0, 10), got 70", "sample_ids(2) must be in [0, 10), got 70");

  // per_sample storage: view budgets.
  const memloc::unitmem_options per_sample{memloc::rest_reduction::median};
  memloc::unitmem_accumulator ps(x, shape, per_sample);
  CHECK_MEMLOC_ERROR(ps.update(x, with({5, 3, 3, 4}, dense_strides), id_view), "batch extent(1) (views) must be in [1, 2], got 3");
  auto one_view = with({5, 1, 3, 4}, dense_strides);
  std::vector<std::int64_t> twice{0, 0, 0, 1, 2};
  check_index_error<B>(
      ps, [&] { return memloc::unitmem_accumulator(x, shape, per_sample); },
      [&](auto& a) { a.update(x, one_view, mem.place(twice, memloc::make_vector_view(twice.data(), 5))); }, finalize,
      "views folded for sample id 0 must be at most 2, got 3 with this batch",
      "views folded for sample id 0 must be at most 2, got 3");
  ps.update(x, one_view, id_view);
  CHECK_MEMLOC_ERROR(ps.finalize(x, outputs{out.view()}), "every folded sample must have all 2 views, got 1 for sample id 0");
  memloc::unitmem_accumulator ps2(x, shape, per_sample);
  ps2.update(x, good, id_view);
  CHECK_MEMLOC_ERROR(ps.merge(x, ps2), "views of sample id 0 across both accumulators must be at most 2, got 3");
  ps.update(x, one_view, id_view);
  CHECK(ps.finalize(x, outputs{out.view()}).samples == 5);

  // One-shot checks name the activations, not the accumulator built from them.
  CHECK_MEMLOC_ERROR(memloc::unitmem(x, with({1, 2, 3, 4}, dense_strides), outputs{out.view()}),
                     "memloc::unitmem: activations extent(0) (samples) must be >= 2, got 1");
  CHECK_MEMLOC_ERROR(memloc::unitmem(x, with({5, 0, 3, 4}, dense_strides), outputs{out.view()}),
                     "memloc::unitmem: activations extent(1) (views) must be >= 1, got 0");
  CHECK_MEMLOC_ERROR(memloc::unitmem(x, with({5, 2, 0, 4}, dense_strides), outputs{out.view()}),
                     "memloc::unitmem: activations extent(2) (units) must be >= 1, got 0");
  CHECK_MEMLOC_ERROR(memloc::unitmem(x, with({5, 2, 3, 0}, dense_strides), outputs{out.view()}),
                     "memloc::unitmem: activations extent(3) (positions) must be >= 1, got 0");
  // Extents whose product overflows, as a broadcast (stride 0) view can have.
  CHECK_MEMLOC_ERROR(memloc::unitmem(x, with({index_t{1} << 32, index_t{1} << 32, 3, 4}, {0, 0, 4, 1}), outputs{out.view()}),
                     "activations element count (product of extents) must fit in int64, got an overflow in dimension 1");
}

TEST_CASE_TEMPLATE_DEFINE("validation: classmem", B, validation_classmem) {
  const auto x = B::exec();
  typename B::arena mem;
  using memloc::classmem_shape;
  CHECK_MEMLOC_ERROR(memloc::classmem_accumulator(x, classmem_shape{10, 3, 2, 4, 1}), "shape.classes must be >= 2, got 1");
  CHECK_MEMLOC_ERROR(memloc::classmem_accumulator(x, classmem_shape{0, 3, 2, 4, 3}), "samples (size of the id space) must be in");
  CHECK_MEMLOC_ERROR(memloc::classmem_accumulator(x, classmem_shape{10, 0, 2, 4, 3}), "shape.units must be > 0, got 0");
  CHECK_MEMLOC_ERROR(memloc::classmem_accumulator(x, classmem_shape{10, 3, 0, 4, 3}), "shape.views must be > 0, got 0");
  CHECK_MEMLOC_ERROR(memloc::classmem_accumulator(x, classmem_shape{10, 3, 2, 0, 3}), "shape.positions must be > 0, got 0");
  CHECK_MEMLOC_ERROR(memloc::classmem_accumulator(x, classmem_shape{10, index_t{1} << 21, 2, 1, index_t{1} << 20}),
                     "shape.classes * shape.units must be at most 1099511627776, got 1048576 * 2097152");
  CHECK_MEMLOC_ERROR(memloc::classmem_accumulator(x, classmem_shape{10, 3, 2, 4, 3}, {static_cast<memloc::activation_transform>(5)}),
                     "options.transform must be a named enumerator in [0, 2], got 5");
  const classmem_shape shape{10, 3, 2, 4, 3};
  std::vector<float> data(static_cast<std::size_t>(5 * 2 * 3 * 4), 1.0f);
  auto good = mem.place(data, memloc::nchw_sample_major(data.data(), 5, 2, 3, 1, 4));
  std::vector<std::int64_t> ids{0, 1, 2, 3, 4}, labels{0, 1, 2, 0, 1};
  auto id_view = mem.place(ids, memloc::make_vector_view(ids.data(), 5));
  auto label_view = mem.place(labels, memloc::make_vector_view(labels.data(), 5));
  memloc::classmem_accumulator acc(x, shape);
  CHECK_MEMLOC_ERROR(acc.update(x, mem.place(data, memloc::nchw_sample_major(data.data(), 5, 1, 3, 1, 4)), id_view, label_view),
                     "batch extent(1) (views) must be 2, got 1");
  CHECK_MEMLOC_ERROR(acc.update(x, mem.place(data, memloc::nchw_sample_major(data.data(), 5, 2, 2, 1, 4)), id_view, label_view),
                     "batch extent(2) (units) must be 3, got 2");
  CHECK_MEMLOC_ERROR(acc.update(x, mem.place(data, memloc::nchw_sample_major(data.data(), 5, 2, 3, 1, 3)), id_view, label_view),
                     "batch extent(3) (positions) must be 4, got 3");
  auto out = mem.template output<double>(3);
  using outputs = memloc::classmem_outputs<typename B::space>;
  auto make = [&] { return memloc::classmem_accumulator(x, shape); };
  auto finalize = [&](auto& a) { return a.finalize(x, outputs{out.view()}); };
  std::vector<std::int64_t> bad_labels{0, 1, 3, 0, 1};
  check_index_error<B>(
      acc, make,
      [&](auto& a) { a.update(x, good, id_view, mem.place(bad_labels, memloc::make_vector_view(bad_labels.data(), 5))); },
      finalize, "labels(2) must be in [0, 3), got 3", "(batch 1, found on the device): labels(2) must be in [0, 3), got 3");
  CHECK_MEMLOC_ERROR(acc.update(x, good, id_view, mem.place(labels, memloc::make_vector_view(labels.data(), 4))),
                     "labels extent(0) (one label per batch sample) must be 5, got 4");
  std::vector<std::int64_t> bad_ids{0, 1, 2, 3, 12};
  check_index_error<B>(
      acc, make, [&](auto& a) { a.update(x, good, mem.place(bad_ids, memloc::make_vector_view(bad_ids.data(), 5)), label_view); },
      finalize, "sample_ids(4) must be in [0, 10), got 12", "sample_ids(4) must be in [0, 10), got 12");
  // Several bad rows: every id is checked before any label, each in row order.
  std::vector<std::int64_t> late_bad_ids{0, 1, 2, 13, 14}, early_bad_labels{0, 5, 1, 0, 1};
  check_index_error<B>(
      acc, make,
      [&](auto& a) {
        a.update(x, good, mem.place(late_bad_ids, memloc::make_vector_view(late_bad_ids.data(), 5)),
                 mem.place(early_bad_labels, memloc::make_vector_view(early_bad_labels.data(), 5)));
      },
      finalize, "sample_ids(3) must be in [0, 10), got 13", "sample_ids(3) must be in [0, 10), got 13");
  // Only one class has samples yet.
  std::vector<std::int64_t> same{1, 1, 1, 1, 1};
  memloc::classmem_accumulator single(x, shape);
  single.update(x, good, id_view, mem.place(same, memloc::make_vector_view(same.data(), 5)));
  CHECK_MEMLOC_ERROR(single.finalize(x, outputs{out.view()}),
                     "classes with samples must be >= 2 (the rest averages the other classes), got 1");
  acc.update(x, good, id_view, label_view);
  check_index_error<B>(
      acc,
      [&] {
        auto a = make();
        a.update(x, good, id_view, label_view);
        return a;
      },
      [&](auto& a) { a.update(x, good, id_view, label_view); }, finalize, "was already folded",
      "got sample id 0 folded 2 times");
  auto short_out = mem.template output<double>(2);
  CHECK_MEMLOC_ERROR(acc.finalize(x, outputs{short_out.view()}), "out.classmem extent(0) (elements) must be 3, got 2");
  CHECK_MEMLOC_ERROR(acc.finalize(x, outputs{out.view(), short_out.view()}), "out.mu_max extent(0) (elements) must be 3, got 2");
  auto long_ids = mem.template output<std::int64_t>(6);
  CHECK_MEMLOC_ERROR(acc.finalize(x, outputs{out.view(), {}, long_ids.view()}), "out.max_class extent(0) (elements) must be 3, got 6");
  const memloc::vector_view<std::int64_t, typename B::space> strided_ids(long_ids.view().data_handle(), {3}, {2});
  CHECK_MEMLOC_ERROR(acc.finalize(x, outputs{out.view(), {}, strided_ids}), "out.max_class stride(0) must be 1, got 2");
  CHECK_MEMLOC_ERROR(acc.finalize(x, outputs{out.view(), {}, {}, short_out.view()}), "out.mu_rest extent(0) (elements) must be 3, got 2");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::classmem_accumulator(x, classmem_shape{11, 3, 2, 4, 3})),
                     "other.shape().samples must be 10, got 11");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::classmem_accumulator(x, classmem_shape{10, 4, 2, 4, 3})),
                     "other.shape().units must be 3, got 4");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::classmem_accumulator(x, classmem_shape{10, 3, 1, 4, 3})),
                     "other.shape().views must be 2, got 1");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::classmem_accumulator(x, classmem_shape{10, 3, 2, 5, 3})),
                     "other.shape().positions must be 4, got 5");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::classmem_accumulator(x, classmem_shape{10, 3, 2, 4, 4})),
                     "other.shape().classes must be 3, got 4");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::classmem_accumulator(x, shape, {memloc::activation_transform::abs})),
                     "other.options().transform must be none, got abs");
  CHECK_MEMLOC_ERROR(acc.merge(x, single), "got sample id 0 in both");
  CHECK_MEMLOC_ERROR(acc.merge(x, acc), "other must be a different accumulator, got this one");
  auto shared = mem.template output<double>(3);
  CHECK_MEMLOC_ERROR(acc.finalize(x, outputs{shared.view(), shared.view()}),
                     "out.classmem and out.mu_max must not share memory, got overlapping buffers");
  CHECK(acc.finalize(x, outputs{out.view()}).classes_with_samples == 3);
  // One-shot checks name its own arguments; int32 labels are accepted.
  std::vector<std::int32_t> int_labels{0, 1, 2, 0, 1};
  auto int_label_view = mem.place(int_labels, memloc::make_vector_view(int_labels.data(), 5));
  CHECK(memloc::classmem(x, good, int_label_view, 3, outputs{out.view()}).classes_with_samples == 3);
  CHECK_MEMLOC_ERROR(memloc::classmem(x, good, int_label_view, 1, outputs{out.view()}),
                     "memloc::classmem: classes must be >= 2, got 1");
  CHECK_MEMLOC_ERROR(memloc::classmem(x, mem.place(data, memloc::nchw_sample_major(data.data(), 5, 0, 3, 1, 4)), int_label_view, 3,
                                      outputs{out.view()}),
                     "memloc::classmem: activations extent(1) (views) must be >= 1, got 0");
  CHECK_MEMLOC_ERROR(memloc::classmem(x, mem.place(data, memloc::nchw_sample_major(data.data(), 0, 2, 3, 1, 4)), int_label_view, 3,
                                      outputs{out.view()}),
                     "memloc::classmem: activations extent(0) (samples) must be >= 1, got 0");
}

TEST_CASE_TEMPLATE_DEFINE("validation: alignment, sslmem and layermem", B, validation_alignment) {
  const auto x = B::exec();
  typename B::arena mem;
  using memloc::alignment_shape;
  CHECK_MEMLOC_ERROR(memloc::alignment_accumulator(x, alignment_shape{10, 1, 8}), "shape.views must be >= 2, got 1");
  CHECK_MEMLOC_ERROR(memloc::alignment_accumulator(x, alignment_shape{10, 2, 0}), "shape.features must be > 0, got 0");
  CHECK_MEMLOC_ERROR(memloc::alignment_accumulator(x, alignment_shape{-1, 2, 4}), "samples (size of the id space) must be in");
  CHECK_MEMLOC_ERROR(memloc::alignment_accumulator(x, alignment_shape{10, 2, 4}, {static_cast<memloc::distance_kind>(9)}),
                     "options.distance must be a named enumerator in [0, 4], got 9");
  CHECK_MEMLOC_ERROR(memloc::alignment_accumulator(x, alignment_shape{10, 2, 4},
                                                   {memloc::distance_kind::l2, static_cast<memloc::pair_mode>(2)}),
                     "options.pairs must be a named enumerator in [0, 1], got 2");
  const alignment_shape shape{6, 3, 4};
  std::vector<float> fdata(static_cast<std::size_t>(6 * 3 * 4), 1.0f), gdata = fdata;
  auto f = mem.place(fdata, memloc::representations_sample_major(fdata.data(), 6, 3, 4));
  auto g = mem.place(gdata, memloc::representations_sample_major(gdata.data(), 6, 3, 4));
  std::vector<std::int64_t> ids{0, 1, 2, 3, 4, 5};
  auto id_view = mem.place(ids, memloc::make_vector_view(ids.data(), 6));
  memloc::alignment_accumulator acc(x, shape);
  CHECK_MEMLOC_ERROR(acc.update(x, mem.place(fdata, memloc::representations_sample_major(fdata.data(), 6, 2, 4)), g, id_view),
                     "f_batch extent(1) (views) must be 3, got 2");
  CHECK_MEMLOC_ERROR(acc.update(x, f, mem.place(gdata, memloc::representations_sample_major(gdata.data(), 6, 3, 3)), id_view),
                     "g_batch extent(2) (features) must be 4, got 3");
  CHECK_MEMLOC_ERROR(acc.update(x, f, mem.place(gdata, memloc::representations_sample_major(gdata.data(), 5, 3, 4)), id_view),
                     "g_batch extent(0) (samples, as in f_batch) must be 6, got 5");
  CHECK_MEMLOC_ERROR(acc.update(x, f, g, mem.place(ids, memloc::make_vector_view(ids.data(), 5))),
                     "sample_ids extent(0) (one id per batch sample) must be 6, got 5");
  auto half_f = mem.place(fdata, memloc::representations_sample_major(fdata.data(), 3, 3, 4));
  auto half_g = mem.place(gdata, memloc::representations_sample_major(gdata.data(), 3, 3, 4));
  auto out_f = mem.template output<double>(6);
  auto out_g = mem.template output<double>(6);
  auto fold_first_half = [&](auto& a) { a.update(x, half_f, half_g, mem.place(ids, memloc::make_vector_view(ids.data(), 3))); };
  auto finalize_alignment = [&](const auto& a) { a.finalize(x, out_f.view(), out_g.view()); };
  fold_first_half(acc);
  check_index_error<B>(
      acc,
      [&] {
        memloc::alignment_accumulator a(x, shape);
        fold_first_half(a);
        return a;
      },
      fold_first_half, finalize_alignment, "was already folded",
      "memloc::alignment_accumulator::finalize: each sample must be folded once across merged states, got sample id 0 "
      "folded 2 times");
  CHECK_MEMLOC_ERROR(acc.finalize(x, out_f.view(), out_g.view()), "folded samples must be all 6 ids, got 3 (first missing id 3)");
  auto short_out = mem.template output<double>(5);
  CHECK_MEMLOC_ERROR(acc.finalize(x, short_out.view(), out_g.view()), "ssl_f extent(0) (elements) must be 6, got 5");
  CHECK_MEMLOC_ERROR(acc.finalize(x, out_f.view(), short_out.view()), "ssl_g extent(0) (elements) must be 6, got 5");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::alignment_accumulator(x, alignment_shape{6, 3, 5})), "other.shape().features must be 4, got 5");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::alignment_accumulator(x, alignment_shape{7, 3, 4})), "other.shape().samples must be 6, got 7");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::alignment_accumulator(x, alignment_shape{6, 2, 4})), "other.shape().views must be 3, got 2");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::alignment_accumulator(x, shape, {memloc::distance_kind::l1})),
                     "other.options().distance must be l2, got l1");
  CHECK_MEMLOC_ERROR(acc.merge(x, memloc::alignment_accumulator(x, shape, {memloc::distance_kind::l2, memloc::pair_mode::original_vs_views})),
                     "other.options().pairs must be all_pairs, got original_vs_views");
  memloc::alignment_accumulator other(x, shape);
  other.update(x, half_f, half_g, mem.place(ids, memloc::make_vector_view(ids.data(), 3)));
  CHECK_MEMLOC_ERROR(acc.merge(x, other), "got sample id 0 in both");
  CHECK_MEMLOC_ERROR(acc.merge(x, acc), "other must be a different accumulator, got this one");
  CHECK_MEMLOC_ERROR(acc.finalize(x, out_f.view(), out_f.view()), "ssl_f and ssl_g must not share memory, got overlapping buffers");
  {
    // The two columns of one row-major [samples, 2] buffer interleave without sharing memory.
    auto table = mem.template output<double>(12, -1.0);
    const memloc::vector_view<double, typename B::space> column0(table.view().data_handle(), {6}, {2});
    const memloc::vector_view<double, typename B::space> column1(table.view().data_handle() + 1, {6}, {2});
    memloc::alignment_accumulator full(x, shape);
    full.update(x, f, g, id_view);
    full.finalize(x, column0, column1);
    const auto values = mem.fetch(table);
    CHECK(std::count(values.begin(), values.end(), -1.0) == 0);
  }
  {
    std::vector<std::uint64_t> huge{~std::uint64_t{0}};
    auto fold_huge = [&](auto& a) {
      a.update(x, mem.place(fdata, memloc::representations_sample_major(fdata.data(), 1, 3, 4)),
               mem.place(gdata, memloc::representations_sample_major(gdata.data(), 1, 3, 4)),
               mem.place(huge, memloc::make_vector_view(huge.data(), 1)));
    };
    auto make = [&] { return memloc::alignment_accumulator(x, shape); };
    auto one = make();
    check_index_error<B>(one, make, fold_huge, finalize_alignment, "sample_ids(0) must be in [0, 6), got 18446744073709551615",
                         "memloc::alignment_accumulator::update (batch 1, found on the device): sample_ids(0) must be in "
                         "[0, 6), got 18446744073709551615");
  }
  CHECK_MEMLOC_ERROR(memloc::alignment_accumulator(x, alignment_shape{6, index_t{1} << 30, index_t{1} << 30}),
                     "shape.views * shape.features must be at most 281474976710656, got 1073741824 * 1073741824");
  // One-shot checks name its own arguments.
  CHECK_MEMLOC_ERROR(memloc::alignment(x, mem.place(fdata, memloc::representations_sample_major(fdata.data(), 6, 1, 4)),
                                       mem.place(gdata, memloc::representations_sample_major(gdata.data(), 6, 1, 4)), out_f.view(),
                                       out_g.view()),
                     "memloc::alignment: f extent(1) (views) must be >= 2, got 1");
  CHECK_MEMLOC_ERROR(memloc::alignment(x, mem.place(fdata, memloc::representations_sample_major(fdata.data(), 6, 3, 0)),
                                       mem.place(gdata, memloc::representations_sample_major(gdata.data(), 6, 3, 0)), out_f.view(),
                                       out_g.view()),
                     "memloc::alignment: f extent(2) (features) must be >= 1, got 0");
  CHECK_MEMLOC_ERROR(memloc::alignment(x, mem.place(fdata, memloc::representations_sample_major(fdata.data(), 0, 3, 4)),
                                       mem.place(gdata, memloc::representations_sample_major(gdata.data(), 0, 3, 4)), out_f.view(),
                                       out_g.view()),
                     "memloc::alignment: f extent(0) (samples) must be >= 1, got 0");

  // sslmem
  std::vector<double> sf{0.1, 0.2}, sg{0.3, 0.4}, neg{0.1, -0.2};
  auto out2 = mem.template output<double>(2);
  auto vf = mem.place(sf, memloc::make_vector_view(sf.data(), 2));
  auto vg = mem.place(sg, memloc::make_vector_view(sg.data(), 2));
  CHECK_MEMLOC_ERROR(memloc::sslmem(x, vf, mem.place(sg, memloc::make_vector_view(sg.data(), 1)), out2.view()),
                     "ssl_g extent(0) (samples, as in ssl_f) must be 2, got 1");
  CHECK_MEMLOC_ERROR(memloc::sslmem(x, vf, mem.place(neg, memloc::make_vector_view(neg.data(), 2)), out2.view()),
                     "ssl_g(1) must be a distance >= 0, got -0.2");
  CHECK_MEMLOC_ERROR(memloc::sslmem(x, mem.place(neg, memloc::make_vector_view(neg.data(), 2)), vg, out2.view()),
                     "ssl_f(1) must be a distance >= 0, got -0.2");
  CHECK_MEMLOC_ERROR(memloc::sslmem(x, vf, vg, short_out.view()), "out extent(0) (elements) must be 2, got 5");
  CHECK_MEMLOC_ERROR(memloc::sslmem(x, vf, vg, out2.view(), {static_cast<memloc::sslmem_normalization>(4)}),
                     "options.normalization must be a named enumerator in [0, 3], got 4");
  std::vector<double> same_f{0.1, 0.1}, same_g{0.3, 0.3};
  CHECK_MEMLOC_ERROR(memloc::sslmem(x, mem.place(same_f, memloc::make_vector_view(same_f.data(), 2)),
                                    mem.place(same_g, memloc::make_vector_view(same_g.data(), 2)), out2.view(),
                                    {memloc::sslmem_normalization::range}),
                     "the range of SSL_g - SSL_f (max - min) must be > 0 to normalise the scores, got 0");
  std::vector<double> worse_f{0.4, 0.4}, worse_g{0.2, 0.1};  // g/max g - f/max f = [0, -0.5]: no positive max
  CHECK_MEMLOC_ERROR(memloc::sslmem(x, mem.place(worse_f, memloc::make_vector_view(worse_f.data(), 2)),
                                    mem.place(worse_g, memloc::make_vector_view(worse_g.data(), 2)), out2.view(),
                                    {memloc::sslmem_normalization::max}),
                     "max of SSL_g/max SSL_g - SSL_f/max SSL_f must be > 0 to normalise the scores, got 0");

  // layermem
  using point = memloc::measurement_point<typename B::space>;
  const memloc::vector_view<const double, typename B::space> cf = vf, cg = vg;
  auto lm = mem.template output<double>(2);
  auto delta = mem.template output<double>(2);
  const memloc::vector_view<std::int64_t, typename B::space> no_subset{};
  CHECK_MEMLOC_ERROR(memloc::layermem(x, std::vector<point>{}, lm.view(), delta.view(), no_subset), "points.size() must be >= 1, got 0");
  CHECK_MEMLOC_ERROR(memloc::layermem(x, std::vector<point>{{"", cf, cg}}, lm.view(), delta.view(), no_subset),
                     "points[0].name must be non-empty");
  CHECK_MEMLOC_ERROR(memloc::layermem(x, std::vector<point>{{"conv1", cf, cg}, {"conv1", cf, cg}}, lm.view(), delta.view(), no_subset),
                     "points[1].name must be unique, got \"conv1\" again");
  std::vector<double> three{0.1, 0.2, 0.3};
  const memloc::vector_view<const double, typename B::space> c3 = mem.place(three, memloc::make_vector_view(three.data(), 3));
  CHECK_MEMLOC_ERROR(memloc::layermem(x, std::vector<point>{{"conv1", cf, cg}, {"conv2", c3, c3}}, lm.view(), delta.view(), no_subset),
                     "conv2 extent(0) (samples, as at the first point) must be 2, got 3");
  const std::vector<point> two{{"conv1", cf, cg}, {"conv2", cf, cg}};
  CHECK_MEMLOC_ERROR(memloc::layermem(x, two, lm.view(), delta.view(), no_subset, {{}, {memloc::subset_kind::top, 3}}),
                     "options.subset.k must be in [1, 2], got 3");
  CHECK_MEMLOC_ERROR(memloc::layermem(x, two, lm.view(), delta.view(), no_subset, {{}, {memloc::subset_kind::random, 0}}),
                     "options.subset.k must be in [1, 2], got 0");
  CHECK_MEMLOC_ERROR(memloc::layermem(x, two, lm.view(), delta.view(), no_subset, {{}, {memloc::subset_kind::top, 1, 0, 2}}),
                     "options.subset.rank_point must be -1 (the last point) or in [0, 2), got 2");
  CHECK_MEMLOC_ERROR(memloc::layermem(x, two, lm.view(), delta.view(), no_subset,
                                      {{}, {static_cast<memloc::subset_kind>(4)}}),
                     "options.subset.kind must be a named enumerator in [0, 3], got 4");
  CHECK_MEMLOC_ERROR(memloc::layermem(x, two, out_f.view(), delta.view(), no_subset), "layermem_out extent(0) (elements) must be 2, got 6");
  CHECK_MEMLOC_ERROR(memloc::layermem(x, two, lm.view(), out_f.view(), no_subset), "delta_out extent(0) (elements) must be 2, got 6");
  auto wrong_subset = mem.template output<std::int64_t>(2);
  CHECK_MEMLOC_ERROR(memloc::layermem(x, two, lm.view(), delta.view(), wrong_subset.view(), {{}, {memloc::subset_kind::top, 1}}),
                     "subset_out extent(0) (elements) must be 1, got 2");
  CHECK_MEMLOC_ERROR(memloc::layermem(x, two, lm.view(), lm.view(), no_subset),
                     "layermem_out and delta_out must not share memory, got overlapping buffers");
  {
    using out_view = memloc::vector_view<double, typename B::space>;
    auto scores0 = mem.template output<double>(2, -1.0);
    CHECK_MEMLOC_ERROR(memloc::layermem(x, two, lm.view(), delta.view(), no_subset, {}, std::vector<out_view>{scores0.view()}),
                       "sslmem_out.size() must be 0 (no scores wanted) or 2 (one per point), got 1");
    CHECK_MEMLOC_ERROR(memloc::layermem(x, two, lm.view(), delta.view(), no_subset, {},
                                        std::vector<out_view>{scores0.view(), out_f.view()}),
                       "sslmem_out[1] extent(0) (elements) must be 2, got 6");
    CHECK_MEMLOC_ERROR(memloc::layermem(x, two, lm.view(), delta.view(), no_subset, {},
                                        std::vector<out_view>{scores0.view(), scores0.view()}),
                       "sslmem_out[0] and sslmem_out[1] must not share memory, got overlapping buffers");
    CHECK_MEMLOC_ERROR(memloc::layermem(x, two, lm.view(), delta.view(), no_subset, {},
                                        std::vector<out_view>{scores0.view(), lm.view()}),
                       "layermem_out and sslmem_out[1] must not share memory, got overlapping buffers");
    // A refused call writes none of them.
    CHECK(mem.fetch(scores0) == std::vector<double>{-1.0, -1.0});
  }
  const memloc::vector_view<const double, typename B::space> empty{};
  CHECK_MEMLOC_ERROR(memloc::layermem(x, std::vector<point>{{"conv1", empty, empty}}, lm.view(), delta.view(), no_subset),
                     "samples at each point must be >= 1, got 0");
}

}  // namespace testing
