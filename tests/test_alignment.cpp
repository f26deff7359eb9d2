#include <memloc/memloc.hpp>

#include "bodies/alignment_bodies.hpp"

namespace testing {
TEST_CASE_TEMPLATE_INVOKE(alignment_oracle, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_hand, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_double, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_nan, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_cancellation, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_streaming, host_backend);
TEST_CASE_TEMPLATE_INVOKE(alignment_many_views, host_backend);
TEST_CASE_TEMPLATE_INVOKE(sslmem_cases, host_backend);
TEST_CASE_TEMPLATE_INVOKE(sslmem_in_place, host_backend);
TEST_CASE_TEMPLATE_INVOKE(layermem_cases, host_backend);
TEST_CASE_TEMPLATE_INVOKE(layermem_spec, host_backend);
TEST_CASE_TEMPLATE_INVOKE(layermem_ranking, host_backend);
}  // namespace testing

#include "allocation_count.hpp"

namespace testing {

#if defined(MEMLOC_HOST_GRAM)
// Issue 17: the Gram products behind the host's all-pairs alignment, for every vector width
// a build can run (the alignment tests above run only the one this CPU picks): 16 bytes,
// the build's own, and AVX2 where a baseline x86-64 build dispatches to it. Rows are
// 64-byte aligned and zero-padded, as the alignment lays them out; 7 rows pad to a tile of 9.
template <class W>
void gram_matches_fp64(memloc::detail::host::gram_function<W> gram, const std::string& what) {
  namespace host = memloc::detail::host;
  const index_t m = 7, m_pad = 9, features = 1500;
  const index_t padded = (features + host::gram_row_multiple<W> - 1) / host::gram_row_multiple<W> * host::gram_row_multiple<W>;
  std::vector<W> storage(static_cast<std::size_t>((m_pad + 1) * padded + host::gram_row_multiple<W>), W(0));
  W* base = host::aligned_for_gram(storage.data());
  const auto values = random_values(static_cast<std::size_t>(m * features), 77, -1.0, 1.0);
  std::vector<const W*> rows(static_cast<std::size_t>(m_pad), base + m * padded);
  for (index_t r = 0; r < m; ++r) {
    for (index_t k = 0; k < features; ++k) base[r * padded + k] = static_cast<W>(values[static_cast<std::size_t>(r * features + k)]);
    rows[static_cast<std::size_t>(r)] = base + r * padded;
  }
  std::vector<double> g(static_cast<std::size_t>(m_pad * m_pad), -1.0);
  host::read_ahead none;
  gram(rows.data(), m_pad, padded, g.data(), none);
  for (index_t i = 0; i < m; ++i) {
    for (index_t j = i; j < m; ++j) {
      double expected = 0.0, magnitude = 0.0;
      for (index_t k = 0; k < features; ++k) {
        const double product = static_cast<double>(rows[static_cast<std::size_t>(i)][k]) * rows[static_cast<std::size_t>(j)][k];
        expected += product;
        magnitude += std::abs(product);
      }
      INFO(what, " g(", i, ", ", j, ") = ", g[static_cast<std::size_t>(i * m_pad + j)], ", expected ", expected);
      CHECK(std::abs(g[static_cast<std::size_t>(i * m_pad + j)] - expected) <= 1e-5 * magnitude);
    }
  }
}

template <class W>
void gram_matches_fp64_for_every_width() {
  namespace host = memloc::detail::host;
  gram_matches_fp64<W>(
      [](const W* const* rows, index_t m_pad, index_t padded, double* g, host::read_ahead& ahead) noexcept {
        host::gram_upper<16>(rows, m_pad, padded, g, ahead);
      },
      "16-byte vectors");
  gram_matches_fp64<W>(host::gram_upper_build_isa<W>, "the build's vectors");
#if defined(MEMLOC_HOST_GRAM_AVX2)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) gram_matches_fp64<W>(host::gram_upper_avx2<W>, "AVX2");
#endif
}

TEST_CASE("alignment: the Gram products agree with fp64 for every vector width") {
  gram_matches_fp64_for_every_width<float>();
  gram_matches_fp64_for_every_width<double>();
}
#endif

// Issue 16: sslmem writes its scores into out itself; the range and max normalisations read
// the alignments again for their statistics instead of keeping copies of them.
TEST_CASE("sslmem: scores go straight into out, with no working copy") {
  const auto f = random_values(301, 21, 0.0, 3.0);
  const auto g = random_values(301, 22, 0.0, 3.0);
  const auto n = static_cast<index_t>(f.size());
  for (const auto how : {memloc::sslmem_normalization::none, memloc::sslmem_normalization::ratio,
                         memloc::sslmem_normalization::range, memloc::sslmem_normalization::max}) {
    const auto expected = oracle::sslmem(f, g, to_oracle(how));
    const std::string label = "normalization " + std::to_string(static_cast<int>(how));
    std::vector<double> out(f.size(), -7.0);
    const std::size_t before = heap_allocations();
    memloc::sslmem(memloc::host_exec{}, memloc::make_vector_view(f.data(), n), memloc::make_vector_view(g.data(), n),
                   memloc::make_vector_view(out.data(), n), {how});
    CHECK_MESSAGE(heap_allocations() == before, label);
    check_close(out, expected, 1e-14, 1e-15, label);
  }
}

}  // namespace testing
