// Alignment, SSLMem and LayerMem on the CUDA backend: the shared bodies, then what only the
// device has (ids checked on the device, determinism, the host's SSLMem bit for bit).

#include <cstring>

#include "cuda_support.cuh"

// SSLMem and LayerMem on the host need neither Eigen nor OpenMP, so the device results can
// be compared with the host's here.
#include <memloc/layermem.hpp>
#include <memloc/sslmem.hpp>

#include "../bodies/alignment_bodies.hpp"
#include "../bodies/validation_bodies.hpp"

namespace testing {
TEST_CASE_TEMPLATE_INVOKE(alignment_oracle, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_hand, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_double, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_nan, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_cancellation, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_streaming, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_many_views, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(sslmem_cases, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(sslmem_in_place, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(layermem_cases, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(layermem_spec, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(layermem_ranking, cuda_backend);
TEST_CASE_TEMPLATE_INVOKE(validation_alignment, cuda_backend);

namespace {


template <class T>
std::vector<T> fetch_raw(const T* device, index_t n) {
  std::vector<T> host(static_cast<std::size_t>(n));
  download(host.data(), device, host.size() * sizeof(T));
  return host;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// The scores of a host-side sslmem call.
std::vector<double> host_sslmem(std::vector<double> f, std::vector<double> g, const memloc::sslmem_options& options) {
  std::vector<double> out(f.size());
  const auto n = static_cast<index_t>(f.size());
  memloc::sslmem(memloc::host_exec{}, memloc::make_vector_view(f.data(), n), memloc::make_vector_view(g.data(), n),
                 memloc::make_vector_view(out.data(), n), options);
  return out;
}

}  // namespace

// Both fold_alignments paths over one batch (strided fp32 rows), SSL_f then SSL_g.
template <class Op, bool InRegisters>
std::vector<double> alignments_by_path(stored_representations<float>& f, stored_representations<float>& g,
                                       memloc::pair_mode pairs) {
  namespace device = memloc::detail::cuda;
  cuda_arena mem;
  const auto fd = mem.place(f.storage, memloc::representations_view<const float>(f.view));
  const auto gd = mem.place(g.storage, memloc::representations_view<const float>(g.view));
  const index_t samples = f.view.extent(0);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(samples));
  for (index_t n = 0; n < samples; ++n) ids[static_cast<std::size_t>(n)] = n;
  const auto id_view = mem.place(ids, memloc::make_vector_view(static_cast<const std::int64_t*>(ids.data()), samples));
  auto ssl = mem.output<double>(2 * samples);
  auto folds = mem.output<std::int32_t>(samples);
  auto status = device_allocate<memloc::kernels::status_record>(1);
  const memloc::kernels::status_record clean{};
  upload(status.data, &clean, sizeof clean);
  device::launch("test", "the alignment kernel", memloc::kernels::fold_alignments<Op, InRegisters, float, float>,
                 memloc::kernels::grid_for(2 * samples, 1), memloc::kernels::block_threads, 0, test_stream(), fd, gd,
                 device::index_list_of(id_view), samples, f.view.extent(1), f.view.extent(2), pairs, samples, ssl.data,
                 ssl.data + samples, folds.data, status.data, 1LL, static_cast<double*>(nullptr));
  return mem.fetch(ssl);
}

TEST_CASE("cuda alignment: up to register_views views, the register path agrees with the pair-by-pair path") {
  // Both add the same terms in the same order, so the emulation, which fuses no
  // multiply-adds, gives the same bits. On the H200 the normalised distances differed in the
  // last bits (l2_normalized, 7 and 10 views), most likely from nvcc's multiply-add fusion:
  // it fuses a product with one use into its add, pair by pair each x * inverse norm, while
  // in registers a view's products are shared by its pairs. There, the two must agree to
  // within rounding. 300 features (emulated) or 3000 span several strides of
  // a block; strided rows; every distance of one sum, both pair modes, the smallest view
  // count, an odd one and the most.
  const index_t samples = 3, features = on_emulation ? 300 : 3000;
  for (const index_t views : {index_t{2}, index_t{7}, index_t{memloc::kernels::register_views}}) {
    const auto seed = static_cast<std::uint64_t>(views);
    auto f = store_representations<float>(random_representations(samples, views, features, 90 + seed), rep_layout::strided);
    auto g = store_representations<float>(random_representations(samples, views, features, 190 + seed), rep_layout::strided);
    for (const auto distance : all_distances()) {
      for (const auto pairs : {memloc::pair_mode::all_pairs, memloc::pair_mode::original_vs_views}) {
        INFO("views ", views, ", distance ", static_cast<int>(distance), ", pairs ", static_cast<int>(pairs));
        memloc::detail::dispatch_distance(distance, [&](auto op) {
          using Op = decltype(op);
          if constexpr (!Op::needs_second_sum) {  // angular keeps two sums per pair: pair by pair only
            const auto in_registers = alignments_by_path<Op, true>(f, g, pairs);
            const auto pair_by_pair = alignments_by_path<Op, false>(f, g, pairs);
            if (on_emulation) {
              CHECK(same_bits(in_registers, pair_by_pair));
            } else {
              check_close(in_registers, pair_by_pair, 1e-6, 1e-12, "register path");
            }
            CHECK(std::isfinite(in_registers.front()));
          }
        });
      }
    }
  }
}

TEST_CASE("cuda alignment: two runs give the same bits, with many features, many views and every distance") {
  // 70 views exceed the inverse norms kept in shared memory; 3000 features (300 emulated) span
  // more than one stride of a block. Emulated, 2 samples instead of 5: each of the 2415 view
  // pairs is a block reduction with barriers, a quarter of a million thread switches per sample.
  const index_t features = on_emulation ? 300 : 3000;
  const index_t samples = on_emulation ? 2 : 5;
  for (const auto distance : all_distances()) {
    for (const auto pairs : {memloc::pair_mode::all_pairs, memloc::pair_mode::original_vs_views}) {
      const index_t views = pairs == memloc::pair_mode::all_pairs ? 70 : 4;
      const auto f = random_representations(samples, views, features, 77);
      const auto g = random_representations(samples, views, features, 78);
      oracle::representations fl, gl;
      const auto first = alignment_one_shot<cuda_backend, float>(f, g, rep_layout::strided, {distance, pairs}, &fl, &gl);
      const auto second = alignment_one_shot<cuda_backend, float>(f, g, rep_layout::strided, {distance, pairs});
      INFO("distance ", static_cast<int>(distance), ", views ", views);
      CHECK(same_bits(first.first, second.first));
      CHECK(same_bits(first.second, second.second));
      const bool original = pairs == memloc::pair_mode::original_vs_views;
      check_close(first.first, oracle::alignment(fl, to_oracle(distance), original), distance_tolerance,
                  distance_tolerance, "ssl_f");
      check_close(first.second, oracle::alignment(gl, to_oracle(distance), original), distance_tolerance,
                  distance_tolerance, "ssl_g");
    }
  }
}

TEST_CASE("cuda alignment: f and g of different element types in one update") {
  const index_t N = 6, V = 3, D = 40;
  const auto f = random_representations(N, V, D, 5);
  const auto g = random_representations(N, V, D, 6);
  auto fs = store_representations<memloc::half>(f, rep_layout::view_major);
  auto gs = store_representations<double>(g, rep_layout::sample_major);
  cuda_arena mem;
  auto out_f = mem.output<double>(N);
  auto out_g = mem.output<double>(N);
  memloc::alignment(cuda_backend::exec(), mem.place(fs.storage, fs.view), mem.place(gs.storage, gs.view), out_f.view(),
                    out_g.view(), {memloc::distance_kind::cosine});
  check_close(mem.fetch(out_f), oracle::alignment(fs.logical, oracle::distance::cosine, false), distance_tolerance,
              distance_tolerance, "half f");
  check_close(mem.fetch(out_g), oracle::alignment(gs.logical, oracle::distance::cosine, false), 1e-12, 1e-15, "double g");
}

template <class I>
void fold_with_ids_of_type() {
  const index_t N = 8, V = 2, D = 16;
  const auto f = random_representations(N, V, D, 9);
  const auto g = random_representations(N, V, D, 10);
  const auto whole = alignment_one_shot<cuda_backend, float>(f, g, rep_layout::sample_major, {});
  // Rows in reverse order, named by their ids, through a strided id view.
  oracle::representations fr{N, V, D, {}}, gr{N, V, D, {}};
  std::vector<I> ids(static_cast<std::size_t>(2 * N), I{0});
  for (index_t r = 0; r < N; ++r) {
    const index_t n = N - 1 - r;
    ids[static_cast<std::size_t>(2 * r)] = static_cast<I>(n);
    for (index_t v = 0; v < V; ++v)
      for (index_t d = 0; d < D; ++d) {
        fr.values.push_back(f.at(n, v, d));
        gr.values.push_back(g.at(n, v, d));
      }
  }
  auto fs = store_representations<float>(fr, rep_layout::sample_major);
  auto gs = store_representations<float>(gr, rep_layout::sample_major);
  cuda_arena mem;
  memloc::alignment_accumulator acc(cuda_backend::exec(), memloc::alignment_shape{N, V, D});
  acc.update(cuda_backend::exec(), mem.place(fs.storage, fs.view), mem.place(gs.storage, gs.view),
             mem.place(ids, memloc::vector_view<I>(ids.data(), {N}, {2})));
  auto out_f = mem.output<double>(N);
  auto out_g = mem.output<double>(N);
  acc.finalize(cuda_backend::exec(), out_f.view(), out_g.view());
  CHECK(mem.fetch(out_f) == whole.first);
  CHECK(mem.fetch(out_g) == whole.second);
}

TEST_CASE("cuda alignment: ids of any integer type, read through a stride on the device") {
  fold_with_ids_of_type<std::int32_t>();
  fold_with_ids_of_type<std::int64_t>();
  fold_with_ids_of_type<std::uint32_t>();
  fold_with_ids_of_type<std::uint16_t>();
}

TEST_CASE("cuda alignment: a bad id is raised by merge too, and reset clears it") {
  const memloc::alignment_shape shape{4, 2, 3};
  std::vector<float> data(static_cast<std::size_t>(4 * 2 * 3), 0.5f);
  cuda_arena mem;
  const auto x = cuda_backend::exec();
  auto rows = mem.place(data, memloc::representations_sample_major(data.data(), 2, 2, 3));
  std::vector<std::int32_t> good{0, 1}, bad{2, -7}, rest{2, 3};
  memloc::alignment_accumulator a(x, shape), b(x, shape);
  a.update(x, rows, rows, mem.place(good, memloc::make_vector_view(good.data(), 2)));
  b.update(x, rows, rows, mem.place(rest, memloc::make_vector_view(rest.data(), 2)));
  b.update(x, rows, rows, mem.place(bad, memloc::make_vector_view(bad.data(), 2)));
  CHECK_MEMLOC_ERROR(a.merge(x, b),
                     "memloc::alignment_accumulator::update (batch 2, found on the device): sample_ids(1) must be in [0, 4), got -7");
  b.reset(x);
  b.update(x, rows, rows, mem.place(rest, memloc::make_vector_view(rest.data(), 2)));
  a.merge(x, b);
  auto out_f = mem.output<double>(4);
  auto out_g = mem.output<double>(4);
  a.finalize(x, out_f.view(), out_g.view());
  for (const double v : mem.fetch(out_f)) CHECK(v == 0.0);
  // The state buffers are device memory holding one fold per sample after the merge.
  const auto buffers = a.state_buffers();
  REQUIRE(buffers.size() == 3);
  CHECK(std::string(buffers[2].name) == "sample_folds");
  CHECK(fetch_raw(static_cast<const std::int32_t*>(buffers[2].data), 4) == std::vector<std::int32_t>{1, 1, 1, 1});
}

TEST_CASE("cuda sslmem and layermem: the host's scores bit for bit, the same bits in every run") {
  const auto f = random_values(1000, 31, 0.0, 3.0);
  const auto g = random_values(1000, 32, 0.0, 3.0);
  for (const auto n : {memloc::sslmem_normalization::none, memloc::sslmem_normalization::ratio,
                       memloc::sslmem_normalization::range, memloc::sslmem_normalization::max}) {
    for (const bool clamp : {false, true}) {
      INFO("normalization ", static_cast<int>(n), ", clamp ", clamp);
      const auto device = sslmem_scores<cuda_backend>(f, g, {n, clamp});
      CHECK(same_bits(device, host_sslmem(f, g, {n, clamp})));
      CHECK(same_bits(device, sslmem_scores<cuda_backend>(f, g, {n, clamp})));
    }
  }
  std::vector<std::vector<double>> pf, pg;
  for (std::uint64_t p = 0; p < 5; ++p) {
    pf.push_back(random_values(3000, 40 + p, 0.0, 2.0));
    pg.push_back(random_values(3000, 50 + p, 0.0, 2.0));
  }
  // Ties at the clamp bounds exercise the ranking's order among equal scores.
  for (const auto kind : {memloc::subset_kind::all, memloc::subset_kind::random, memloc::subset_kind::top,
                          memloc::subset_kind::least}) {
    const memloc::layermem_options options{{memloc::sslmem_normalization::ratio, true}, {kind, 700, 3, 2}};
    const auto first = run_layermem<cuda_backend>(pf, pg, options);
    const auto second = run_layermem<cuda_backend>(pf, pg, options);
    const auto host = run_layermem<host_backend>(pf, pg, options);
    INFO("subset kind ", static_cast<int>(kind));
    CHECK(same_bits(first.layermem, second.layermem));
    CHECK(first.subset == host.subset);
    check_close(first.layermem, host.layermem, 1e-13, 1e-15, "layermem");
    check_close(first.delta, host.delta, 1e-12, 1e-14, "delta");
  }
}

TEST_CASE("cuda sslmem: a failed call leaves its output untouched") {
  cuda_arena mem;
  std::vector<double> f{0.1, 0.2, 0.3}, g{0.3, -0.1, -0.2};
  auto out = mem.output<double>(3, 7.0);
  CHECK_MEMLOC_ERROR(memloc::sslmem(cuda_backend::exec(), mem.place(f, memloc::make_vector_view(f.data(), 3)),
                                    mem.place(g, memloc::make_vector_view(g.data(), 3)), out.view()),
                     "memloc::sslmem: ssl_g(1) must be a distance >= 0, got -0.1");
  CHECK(mem.fetch(out) == std::vector<double>{7.0, 7.0, 7.0});
}

}  // namespace testing
