#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include <memloc/memloc.hpp>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "bodies/alignment_bodies.hpp"
#include "bodies/unitmem_bodies.hpp"

namespace testing {
TEST_CASE_TEMPLATE_INVOKE(unitmem_oracle, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_spec_vectors, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_policy, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_ties, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_edges, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_streaming, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_properties, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_fold_paths, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_direct_mu, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_deterministic, host_backend);
TEST_CASE_TEMPLATE_INVOKE(unitmem_per_sample_shapes, host_backend);
}  // namespace testing

namespace testing {

TEST_CASE("unitmem, classmem and alignment give bit-identical results for any thread count") {
  // Host-only: the thread count is a host_exec setting. Work is statically partitioned and
  // every sum is added in a fixed order, so results must not change at all.
  const auto values = random_activations(37, 3, 70, 5, 4242, -0.5, 2.0);
  auto stored = store_activations<float>(values, act_layout::nchw_sample_major);
  const auto reps = random_representations(37, 4, 300, 4343);
  auto reps_stored = store_representations<float>(reps, rep_layout::sample_major);
  std::vector<std::int64_t> labels(37);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i % 5);
  auto run = [&](int threads) {
    const memloc::host_exec exec{threads};
    std::vector<double> out;
    for (const auto rest : {memloc::rest_reduction::mean, memloc::rest_reduction::median}) {
      std::vector<double> um(70);
      memloc::unitmem(exec, stored.view, {memloc::make_vector_view(um.data(), 70)}, {rest});
      out.insert(out.end(), um.begin(), um.end());
    }
    std::vector<double> cm(70);
    memloc::classmem(exec, stored.view, memloc::make_vector_view(labels.data(), 37), 5, {memloc::make_vector_view(cm.data(), 70)});
    out.insert(out.end(), cm.begin(), cm.end());
    std::vector<double> sf(37), sg(37);
    memloc::alignment(exec, reps_stored.view, reps_stored.view, memloc::make_vector_view(sf.data(), 37),
                      memloc::make_vector_view(sg.data(), 37), {memloc::distance_kind::angular});
    out.insert(out.end(), sf.begin(), sf.end());
    return out;
  };
  const auto one = run(1);
  CHECK(run(2) == one);
  CHECK(run(3) == one);
  CHECK(run(0) == one);
}

TEST_CASE("unitmem over a folded μ matrix: the direct read and the strided fold agree bit for bit") {
  // One view and one position with units contiguous is read as μ directly; the same matrix
  // stored unit-major has to be folded. Both must give the same sums, maxima and argmax,
  // for any thread count, over enough samples to make many update tasks.
  constexpr memloc::index_t samples = 700, units = 33;
  const auto values = random_activations(samples, 1, units, 1, 777, -1.0, 3.0);
  std::vector<float> row_major(static_cast<std::size_t>(samples * units)), unit_major(row_major.size());
  for (memloc::index_t b = 0; b < samples; ++b) {
    for (memloc::index_t u = 0; u < units; ++u) {
      const auto x = static_cast<float>(values.values[static_cast<std::size_t>(b * units + u)]);
      row_major[static_cast<std::size_t>(b * units + u)] = x;
      unit_major[static_cast<std::size_t>(u * samples + b)] = x;
    }
  }
  const memloc::activations_view<const float> direct = memloc::dense_sample_major(row_major.data(), samples, 1, units);
  const memloc::activations_view<const float> strided(unit_major.data(), {samples, 1, units, 1},
                                                      {1, samples * units, samples, 1});
  auto run = [&](const memloc::activations_view<const float>& view, int threads) {
    std::vector<double> out;
    // The mean keeps per-unit state, the median per-sample sums: both have a direct read.
    for (const auto rest : {memloc::rest_reduction::mean, memloc::rest_reduction::median}) {
      std::vector<double> um(units), top(units);
      std::vector<std::int64_t> argmax(units);
      memloc::unitmem(memloc::host_exec{threads}, view,
                      {memloc::make_vector_view(um.data(), units), memloc::make_vector_view(top.data(), units),
                       memloc::make_vector_view(argmax.data(), units)},
                      {rest});
      out.insert(out.end(), um.begin(), um.end());
      out.insert(out.end(), top.begin(), top.end());
      for (const auto id : argmax) out.push_back(static_cast<double>(id));
    }
    return out;
  };
  const auto expected = run(strided, 1);
  CHECK(run(direct, 1) == expected);
  CHECK(run(direct, 2) == expected);
  CHECK(run(strided, 3) == expected);
}

}  // namespace testing

namespace testing {

// Issue 17: the per-unit update reads units in groups of 16 over tiles of 16 rows, and the
// median finalize selects over blocks of 16 units from histograms counted while the block
// is read. Unit counts off those multiples, sample counts around a tile and odd or even
// counts of others, ties, signed zeros, NaN and constant columns, against the oracle: μ is
// the input itself here (one view, one position), so the maximum, its argmax and the
// median are exact, and the mean is exact up to fp64 addition order.
TEST_CASE("unitmem over a μ matrix with edge columns matches the oracle for every block and tile remainder") {
  std::mt19937 gen(1717);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const memloc::index_t units : {1, 15, 16, 17, 37, 300}) {
    for (const memloc::index_t samples : {2, 3, 4, 17, 34, 35, 700}) {
      std::uniform_real_distribution<float> wide(-0.5f, 2.0f);
      std::uniform_int_distribution<int> level(0, 2);
      std::vector<float> mu(static_cast<std::size_t>(samples * units));
      for (memloc::index_t b = 0; b < samples; ++b) {
        for (memloc::index_t u = 0; u < units; ++u) {
          float x = 0.0f;
          switch (u % 6) {
            case 0: x = wide(gen); break;
            case 1: x = static_cast<float>(level(gen)); break;  // ties, also of the maximum
            case 2: x = level(gen) == 0 ? -0.0f : 0.0f; break;  // a dead unit: signed zeros
            case 3: x = 1.5f; break;                             // constant
            case 4: x = b == samples / 2 || b == samples - 1 ? nan : wide(gen); break;  // NaNs in two tasks
            default: x = b == 0 ? nan : wide(gen); break;  // NaN in the first sample
          }
          mu[static_cast<std::size_t>(b * units + u)] = x;
        }
      }
      std::vector<std::vector<double>> rows(static_cast<std::size_t>(samples));
      for (memloc::index_t b = 0; b < samples; ++b) {
        rows[static_cast<std::size_t>(b)].assign(mu.begin() + b * units, mu.begin() + (b + 1) * units);
      }
      const memloc::activations_view<const float> view = memloc::dense_sample_major(mu.data(), samples, 1, units);
      for (const auto rest : {memloc::rest_reduction::mean, memloc::rest_reduction::median}) {
        const auto expected = oracle::unitmem(rows, rest == memloc::rest_reduction::median);
        std::vector<double> first_run;
        for (const int threads : {1, 2, 3}) {
          std::vector<double> um(static_cast<std::size_t>(units)), top(um.size()), others(um.size());
          std::vector<std::int64_t> argmax(um.size());
          memloc::unitmem(memloc::host_exec{threads}, view,
                          {memloc::make_vector_view(um.data(), units), memloc::make_vector_view(top.data(), units),
                           memloc::make_vector_view(argmax.data(), units), memloc::make_vector_view(others.data(), units)},
                          {rest});
          INFO("units " << units << ", samples " << samples << ", threads " << threads << ", median "
                        << (rest == memloc::rest_reduction::median));
          for (memloc::index_t u = 0; u < units; ++u) {
            const auto i = static_cast<std::size_t>(u);
            INFO("unit " << u);
            if (std::isnan(expected.top[i])) {
              CHECK(std::isnan(top[i]));
              CHECK(std::isnan(others[i]));
              CHECK(std::isnan(um[i]));
              // The first NaN wins the maximum (the oracle leaves a NaN unit's argmax open).
              memloc::index_t first_nan = 0;
              while (!std::isnan(mu[static_cast<std::size_t>(first_nan * units + u)])) ++first_nan;
              CHECK(argmax[i] == first_nan);
              continue;
            }
            CHECK(top[i] == expected.top[i]);
            CHECK(argmax[i] == expected.top_index[i]);
            if (rest == memloc::rest_reduction::median) {
              CHECK(others[i] == expected.rest[i]);
            } else {
              CHECK(others[i] == doctest::Approx(expected.rest[i]).epsilon(1e-12));
            }
          }
          // Any thread count gives the same bits.
          std::vector<double> all = um;
          all.insert(all.end(), top.begin(), top.end());
          all.insert(all.end(), others.begin(), others.end());
          for (const auto id : argmax) all.push_back(static_cast<double>(id));
          if (threads == 1) {
            first_run = all;
          } else {
            CHECK(std::memcmp(all.data(), first_run.data(), all.size() * sizeof(double)) == 0);
          }
        }
      }
    }
  }
}

TEST_CASE("mu_from_totals gives mu_from_total's bits, multiplying only for power-of-two counts") {
  // The finalize of per_sample storage converts every total through it; a power-of-two
  // count's reciprocal is exact, so the product must round to the same fp32 as the quotient.
  std::mt19937 gen(1718);
  std::uniform_real_distribution<double> wide(-1e6, 1e6);
  const std::vector<double> specials = {0.0, -0.0, 1e-300, -1e-310, 3.4e38 * 1024, 1e-45, std::numeric_limits<double>::infinity(),
                                        std::numeric_limits<double>::quiet_NaN()};
  for (const std::int64_t count : {1, 2, 3, 4, 5, 6, 7, 8, 10, 16, 197, 1024, 1970, 4096}) {
    const memloc::detail::mu_from_totals to_mu(count);
    CHECK(to_mu.exact == ((count & (count - 1)) == 0));
    std::vector<double> totals = specials;
    for (int i = 0; i < 2000; ++i) totals.push_back(wide(gen));
    for (const double total : totals) {
      const float expected = memloc::detail::mu_from_total(total, count), got = to_mu(total);
      INFO("count " << count << ", total " << total);
      CHECK(std::memcmp(&expected, &got, sizeof got) == 0);
    }
  }
}

// The library's selection (median_of_smallest) over a plain array: the median of
// values[0, n), n >= 1, no NaN.
static double selected_median(const float* values, memloc::index_t n) {
  std::vector<std::uint32_t> bits(static_cast<std::size_t>(n)), candidates(bits.size()), histogram(2048, 0u);
  for (std::size_t i = 0; i < bits.size(); ++i) {
    bits[i] = memloc::detail::selection_bits(values[i]);
    ++histogram[bits[i] >> 21];
  }
  return memloc::detail::host::median_of_smallest(bits.data(), n, n, histogram.data(), candidates.data());
}

TEST_CASE("the host median finalize gives the same bits when its column budget makes passes of 8 units") {
  std::mt19937 gen(99);
  std::uniform_real_distribution<double> wide(-1.0, 3.0);
  const memloc::index_t units = 29, rows = 37, id_space = 60;
  std::vector<std::int64_t> ids;  // increasing, with gaps (every third id unfolded)
  for (memloc::index_t r = 0; r < rows; ++r) ids.push_back(r + r / 2);
  REQUIRE(ids.back() < id_space);
  for (const std::int64_t elements : {1, 3}) {
    std::vector<double> sums(static_cast<std::size_t>(id_space * units));
    for (auto& x : sums) x = std::round(wide(gen) * 8.0) / 8.0 * static_cast<double>(elements);  // ties
    sums[static_cast<std::size_t>(ids[3] * units + 9)] = std::nan("");
    sums[static_cast<std::size_t>(ids[30] * units + 9)] = std::nan("");
    const memloc::detail::host::mu_from_sums mu{sums.data(), ids.data(), units, elements};
    std::vector<memloc::detail::host::unit_column_stats> whole(static_cast<std::size_t>(units)), passes(whole.size());
    memloc::detail::host::column_medians(memloc::host_exec{2}, mu, rows, whole.data());
    // 8 units' columns at a time: passes of 8, 8, 8 and 5 units.
    memloc::detail::host::column_medians(memloc::host_exec{2}, mu, rows, passes.data(), 8 * rows * 4);
    for (memloc::index_t u = 0; u < units; ++u) {
      const auto& a = whole[static_cast<std::size_t>(u)];
      const auto& b = passes[static_cast<std::size_t>(u)];
      INFO("elements " << elements << ", unit " << u);
      CHECK(std::memcmp(&a.top, &b.top, sizeof a.top) == 0);
      CHECK(std::memcmp(&a.rest, &b.rest, sizeof a.rest) == 0);
      CHECK(a.top_row == b.top_row);
      if (u == 9) CHECK(b.top_row == 3);
      if (u != 9) CHECK(!std::isnan(b.rest));
    }
  }
}

// Columns of a per-sample sums matrix for the bracketed median, one pattern per unit.
enum class bracket_pattern {
  uniform, rising, levels, zeros, constant, infinities, cycle_1024, cycle_16, nan_late, minus_infinity, nan_often
};

static double bracket_value(bracket_pattern p, memloc::index_t r, memloc::index_t rows, std::mt19937& gen) {
  std::uniform_real_distribution<double> wide(-1.0, 3.0);
  switch (p) {
    case bracket_pattern::uniform: return wide(gen);
    // Ordered by row, as samples ordered by class are: the middle values sit in a few rows.
    case bracket_pattern::rising: return static_cast<double>(r) / static_cast<double>(rows) + 1e-3 * wide(gen);
    case bracket_pattern::levels: return static_cast<double>(static_cast<int>(wide(gen) + 1.0));  // ties
    case bracket_pattern::zeros: return wide(gen) < 1.0 ? -0.0 : 0.0;
    case bracket_pattern::constant: return 1.5;
    // Batches of 1 024 samples in one order: the same rows of every 64 blocks of 16 hold the
    // middle values, which one task would take if blocks went to tasks by position.
    case bracket_pattern::cycle_1024: return static_cast<double>(r % 1024) / 1024.0 + 1e-4 * wide(gen);
    // A period that divides the stride of a sample of 256 rows from 20 480: an evenly spaced
    // sample would see one phase only.
    case bracket_pattern::cycle_16: return static_cast<double>(r % 16) / 16.0 + 1e-4 * wide(gen);
    case bracket_pattern::infinities: {
      const double x = wide(gen);
      return x < -0.8 ? -INFINITY : x > 2.8 ? INFINITY : x;
    }
    case bracket_pattern::minus_infinity: return -INFINITY;
    // NaNs in the bracketing sample too, whose largest value is then NaN.
    case bracket_pattern::nan_often: return r % 5 == 2 ? std::nan("") : wide(gen);
    // A maximum of +inf, then NaNs in two tasks: the first NaN takes the maximum.
    default: return r == rows / 3 || r == rows - 7 ? std::nan("") : r == 3 ? INFINITY : wide(gen);
  }
}

// The bracketed selection against the column path, which the oracle tests cover: the same
// bits (maximum, its row, median of the others) for every pattern, element count (1: the
// vector sweep; 3: the scalar one), store (fp64 sums, or fp32 μ for one element), unit count
// (tails of the 8- and 16-unit groups), thread count and way the brackets fare: holding,
// overflowing a task's room, or missing.
TEST_CASE("the host's bracketed median gives the column path's bits, whether brackets hold, overflow or miss") {
  using namespace memloc::detail::host;
  const std::vector<bracket_pattern> patterns = {
      bracket_pattern::uniform,    bracket_pattern::rising,     bracket_pattern::levels,
      bracket_pattern::zeros,      bracket_pattern::constant,   bracket_pattern::infinities,
      bracket_pattern::cycle_1024, bracket_pattern::cycle_16,   bracket_pattern::nan_late,
      bracket_pattern::minus_infinity, bracket_pattern::nan_often};
  enum class fate { hold, overflow, miss };
  for (const fate way : {fate::hold, fate::overflow, fate::miss}) {
    for (const memloc::index_t units : {1, 7, 29, 70}) {
      for (const memloc::index_t rows : {257, 2001, 20480}) {
        if (way == fate::overflow && rows != 20480) continue;  // smaller tasks have room for every row
        for (const std::int64_t elements : {1, 3}) {
          std::mt19937 gen(static_cast<unsigned>(units * 7919 + rows + elements));
          const memloc::index_t id_space = rows + rows / 3;
          std::vector<std::int64_t> ids;  // increasing, with gaps
          for (memloc::index_t r = 0; ids.size() < static_cast<std::size_t>(rows); ++r) {
            if (r % 4 != 3) ids.push_back(r);
          }
          REQUIRE(ids.back() < id_space);
          // Samples of 256 rows place brackets of about a quarter of the rows: a room of half
          // a task's rows holds them, one of 32 values does not.
          const median_bracketing how{256, 0, way == fate::overflow ? 1000 : 2};
          // A miss: the rows the bracketing samples hold the largest values, so the bracket
          // lies above the middle ranks.
          std::vector<bool> sampled(static_cast<std::size_t>(rows), false);
          for (memloc::index_t i = 0; i < 256; ++i) sampled[static_cast<std::size_t>(bracket_sample_row(i, rows, 256))] = true;
          std::vector<double> sums(static_cast<std::size_t>(id_space * units));
          for (memloc::index_t r = 0; r < rows; ++r) {
            for (memloc::index_t u = 0; u < units; ++u) {
              const auto p = patterns[static_cast<std::size_t>(u) % patterns.size()];
              double x = bracket_value(p, r, rows, gen);
              if (way == fate::miss && p == bracket_pattern::uniform && sampled[static_cast<std::size_t>(r)]) {
                x = 100.0 + static_cast<double>(r);
              }
              sums[static_cast<std::size_t>(ids[static_cast<std::size_t>(r)] * units + u)] = x * static_cast<double>(elements);
            }
          }
          const mu_from_sums mu{sums.data(), ids.data(), units, elements};
          // One element: the fp32 store of μ that one view and one position keep, as well.
          const std::vector<float> mu_values(sums.begin(), sums.end());
          const mu_rows<float> mu32{mu_values.data(), ids.data(), units, 1};
          std::vector<unit_column_stats> expected(static_cast<std::size_t>(units));
          column_medians_by_columns(memloc::host_exec{2}, mu, rows, expected.data(), median_columns_budget);
          // Three thread counts, the SSE2 sweep besides the AVX2 one where the CPU has it (-1),
          // and a budget that takes the units 8 at a time (3), over either store. run: the
          // thread count, negative for SSE2 alone, plus 10 for the fp32 store.
          for (const int run : {1, 2, 3, -1, 11, 12, 13, -11}) {
            const bool fp32 = std::abs(run) > 10;
            if (fp32 && elements != 1) continue;
            const int threads = run > 0 ? run % 10 : -(-run % 10), thread_count = std::abs(threads);
            std::vector<unit_column_stats> got(static_cast<std::size_t>(units));
            median_bracketing sse2_or_avx2 = how;
            sse2_or_avx2.avx2 = threads > 0;
            const std::int64_t budget = thread_count == 3 ? 1 : median_columns_budget;
            const memloc::host_exec exec{thread_count};
            const memloc::index_t missed = fp32 ? bracketed_medians(exec, mu32, rows, got.data(), budget, sse2_or_avx2)
                                                : bracketed_medians(exec, mu, rows, got.data(), budget, sse2_or_avx2);
            INFO("fate " << static_cast<int>(way) << ", units " << units << ", rows " << rows << ", elements " << elements
                         << ", threads " << thread_count << (threads < 0 ? ", SSE2" : "") << (fp32 ? ", fp32 store" : ""));
            memloc::index_t uniform_units = 0, spread_units = 0;
            for (memloc::index_t u = 0; u < units; ++u) {
              const auto p = patterns[static_cast<std::size_t>(u) % patterns.size()];
              uniform_units += p == bracket_pattern::uniform ? 1 : 0;
              spread_units += p == bracket_pattern::uniform || p == bracket_pattern::rising || p == bracket_pattern::infinities ||
                                      p == bracket_pattern::cycle_1024 || p == bracket_pattern::cycle_16
                                  ? 1
                                  : 0;
              const auto& a = expected[static_cast<std::size_t>(u)];
              const auto& b = got[static_cast<std::size_t>(u)];
              INFO("unit " << u);
              CHECK(std::memcmp(&a.top, &b.top, sizeof a.top) == 0);
              CHECK(std::memcmp(&a.rest, &b.rest, sizeof a.rest) == 0);
              CHECK(a.top_row == b.top_row);
            }
            // How the brackets fared is part of what is tested. Ties at a bracket's ends are
            // counted, not kept, so only units of spread values can overflow (a unit with a
            // NaN is NaN without a selection); a sample of nearly every row cannot miss.
            if (way == fate::hold) CHECK(missed == 0);
            if (way == fate::overflow) CHECK(missed == spread_units);
            if (way == fate::miss && rows > 2 * 256) CHECK(missed == uniform_units);
          }
        }
      }
    }
  }
}

// Above median_bracketing's min_rows the accumulator takes the bracketed path: the oracle's
// median and argmax over 20 000 samples with one view and one position (μ is the input).
TEST_CASE("unitmem's median over 20 000 samples, where the host brackets it, matches the oracle") {
  const memloc::index_t samples = 20000, units = 13;
  REQUIRE(samples >= memloc::detail::host::median_bracketing{}.min_rows);
  const std::vector<bracket_pattern> patterns = {bracket_pattern::uniform, bracket_pattern::rising, bracket_pattern::levels,
                                                 bracket_pattern::zeros, bracket_pattern::infinities};
  std::mt19937 gen(4711);
  std::vector<float> mu(static_cast<std::size_t>(samples * units));
  std::vector<std::vector<double>> rows(static_cast<std::size_t>(samples));
  for (memloc::index_t b = 0; b < samples; ++b) {
    for (memloc::index_t u = 0; u < units; ++u) {
      const auto x = static_cast<float>(bracket_value(patterns[static_cast<std::size_t>(u) % patterns.size()], b, samples, gen));
      mu[static_cast<std::size_t>(b * units + u)] = x;
      rows[static_cast<std::size_t>(b)].push_back(x);
    }
  }
  const auto expected = oracle::unitmem(rows, true);
  std::vector<double> um(static_cast<std::size_t>(units)), top(um.size()), others(um.size());
  std::vector<std::int64_t> argmax(um.size());
  memloc::unitmem(memloc::host_exec{2}, memloc::dense_sample_major(mu.data(), samples, 1, units),
                  {memloc::make_vector_view(um.data(), units), memloc::make_vector_view(top.data(), units),
                   memloc::make_vector_view(argmax.data(), units), memloc::make_vector_view(others.data(), units)},
                  {memloc::rest_reduction::median});
  for (memloc::index_t u = 0; u < units; ++u) {
    const auto i = static_cast<std::size_t>(u);
    INFO("unit " << u);
    CHECK(top[i] == expected.top[i]);
    CHECK(argmax[i] == expected.top_index[i]);
    CHECK(others[i] == expected.rest[i]);
  }
}

// With one view and one position the per-sample state keeps fp32 μ: rows folded before a
// reset must not reach a finalize, a merge or a collective after it, and state_buffers()
// must hand a collective zeros for every sample not folded, also through buffers taken
// before the reset.
TEST_CASE("the fp32 per-sample store leaves nothing of the samples folded before a reset") {
  const memloc::host_exec exec{2};
  const memloc::index_t samples = 8, units = 3;
  memloc::unitmem_options options;
  options.rest = memloc::rest_reduction::median;
  const memloc::unitmem_shape shape{samples, units, 1, 1};
  std::vector<float> x(static_cast<std::size_t>(samples * units));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 5) % 7) - 2.5f;
  x[4] = -0.0f;  // sample 1, unit 1: written as +0, as an add to a zeroed slot gives
  const auto rows_of = [&](const std::vector<std::int64_t>& ids) {
    std::vector<float> rows;
    for (const std::int64_t id : ids) rows.insert(rows.end(), x.begin() + id * units, x.begin() + (id + 1) * units);
    return rows;
  };
  const auto fold = [&](memloc::unitmem_accumulator<memloc::host_space>& acc, const std::vector<std::int64_t>& ids) {
    const std::vector<float> rows = rows_of(ids);
    const auto n = static_cast<memloc::index_t>(ids.size());
    acc.update(exec, memloc::dense_sample_major(rows.data(), n, 1, units), memloc::make_vector_view(ids.data(), n));
  };
  // Stale rows: every sample folded with other values, then a reset.
  const auto stale = [&](memloc::unitmem_accumulator<memloc::host_space>& acc) {
    std::vector<std::int64_t> all(static_cast<std::size_t>(samples));
    std::iota(all.begin(), all.end(), std::int64_t{0});
    std::vector<float> big(static_cast<std::size_t>(samples * units), 1000.0f);
    acc.update(exec, memloc::dense_sample_major(big.data(), samples, 1, units), memloc::make_vector_view(all.data(), samples));
    acc.reset(exec);
  };
  const auto expect_oracle = [&](const memloc::unitmem_accumulator<memloc::host_space>& acc, const std::vector<std::int64_t>& ids) {
    std::vector<std::vector<double>> mu;
    for (const std::int64_t id : ids) mu.emplace_back(x.begin() + id * units, x.begin() + (id + 1) * units);
    const auto expected = oracle::unitmem(mu, true);
    std::vector<double> um(static_cast<std::size_t>(units)), top(um.size()), others(um.size());
    std::vector<std::int64_t> argmax(um.size());
    acc.finalize(exec, {memloc::make_vector_view(um.data(), units), memloc::make_vector_view(top.data(), units),
                        memloc::make_vector_view(argmax.data(), units), memloc::make_vector_view(others.data(), units)});
    for (std::size_t u = 0; u < um.size(); ++u) {
      INFO("unit " << u);
      CHECK(top[u] == expected.top[u]);
      CHECK(argmax[u] == ids[static_cast<std::size_t>(expected.top_index[u])]);
      CHECK(others[u] == expected.rest[u]);
    }
  };

  SUBCASE("finalize") {
    memloc::unitmem_accumulator acc(exec, shape, options);
    stale(acc);
    const std::vector<std::int64_t> ids = {5, 1, 2, 6};
    fold(acc, ids);
    expect_oracle(acc, {1, 2, 5, 6});
  }
  SUBCASE("merge") {
    memloc::unitmem_accumulator acc(exec, shape, options), other(exec, shape, options);
    stale(acc);
    stale(other);
    fold(acc, {0, 3});
    fold(other, {1, 2, 7});
    acc.merge(exec, other);
    expect_oracle(acc, {0, 1, 2, 3, 7});
  }
  SUBCASE("state_buffers") {
    memloc::unitmem_accumulator acc(exec, shape, options), rank1(exec, shape, options);
    stale(acc);
    stale(rank1);
    fold(acc, {4, 1});
    fold(rank1, {6});
    auto buffers = acc.state_buffers(), theirs = rank1.state_buffers();
    REQUIRE(buffers.size() == 2);
    CHECK(std::string(buffers[0].name) == "sample_mu");
    CHECK(buffers[0].element == memloc::state_element::f32);
    CHECK(memloc::state_element_bytes(buffers[0].element) == 4);
    REQUIRE(buffers[0].count == static_cast<std::size_t>(samples * units));
    const auto* mine = static_cast<const float*>(buffers[0].data);
    for (memloc::index_t id = 0; id < samples; ++id) {
      for (memloc::index_t u = 0; u < units; ++u) {
        const float want = id == 1 || id == 4 ? x[static_cast<std::size_t>(id * units + u)] + 0.0f : 0.0f;
        INFO("sample " << id << ", unit " << u);
        CHECK(std::memcmp(&mine[id * units + u], &want, sizeof want) == 0);
      }
    }
    // A collective's sum of both ranks' buffers, as MPI or NCCL would do it.
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      if (buffers[i].element == memloc::state_element::f32) {
        for (std::size_t k = 0; k < buffers[i].count; ++k) {
          static_cast<float*>(buffers[i].data)[k] += static_cast<const float*>(theirs[i].data)[k];
        }
      } else {
        REQUIRE(buffers[i].element == memloc::state_element::i64);
        for (std::size_t k = 0; k < buffers[i].count; ++k) {
          static_cast<std::int64_t*>(buffers[i].data)[k] += static_cast<const std::int64_t*>(theirs[i].data)[k];
        }
      }
    }
    expect_oracle(acc, {1, 4, 6});
  }
  SUBCASE("state_buffers held across a reset") {
    memloc::unitmem_accumulator acc(exec, shape, options);
    const auto held = acc.state_buffers();
    stale(acc);
    fold(acc, {2});
    const auto* mu = static_cast<const float*>(held[0].data);
    for (memloc::index_t i = 0; i < samples * units; ++i) {
      INFO("element " << i);
      CHECK(mu[i] == (i / units == 2 ? x[static_cast<std::size_t>(i)] : 0.0f));
    }
  }
}

// μ of a double input too small for fp32 is -0: the fp64 sums keep the tiny value until
// finalize narrows it, so the fp32 store must narrow 0 + x, not add x's fp32 to zero (which
// gives +0); and -0 itself becomes +0 in both. Through an update and through a merge, for
// either reduction.
TEST_CASE("the fp32 per-sample store keeps the sign of zero the fp64 sums give") {
  const memloc::host_exec exec{2};
  const memloc::index_t samples = 4, units = 2;
  const std::vector<double> x = {-1e-300, -0.0, -2e-300, -0.0, -1e-300, -0.0, -3e-300, -0.0};
  const std::vector<std::int64_t> ids = {0, 1, 2, 3};
  for (const auto rest : {memloc::rest_reduction::mean, memloc::rest_reduction::median}) {
    for (const bool merged : {false, true}) {
      const memloc::unitmem_options options{rest, memloc::activation_transform::none, memloc::unitmem_storage::per_sample};
      memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{samples, units, 1, 1}, options);
      memloc::unitmem_accumulator other(exec, memloc::unitmem_shape{samples, units, 1, 1}, options);
      if (merged) {
        // The first rows, which hold the maximum's row, come from the merge.
        other.update(exec, memloc::dense_sample_major(x.data(), 2, 1, units), memloc::make_vector_view(ids.data(), 2));
        acc.update(exec, memloc::dense_sample_major(x.data() + 2 * units, 2, 1, units),
                   memloc::make_vector_view(ids.data() + 2, 2));
        acc.merge(exec, other);
      } else {
        acc.update(exec, memloc::dense_sample_major(x.data(), samples, 1, units), memloc::make_vector_view(ids.data(), samples));
      }
      std::vector<double> um(static_cast<std::size_t>(units)), top(um.size());
      acc.finalize(exec, {memloc::make_vector_view(um.data(), units), memloc::make_vector_view(top.data(), units)});
      INFO("rest " << static_cast<int>(rest) << ", merged " << merged);
      CHECK(top[0] == 0.0);
      CHECK(std::signbit(top[0]));
      CHECK(top[1] == 0.0);
      CHECK(!std::signbit(top[1]));
    }
  }
}

#if defined(__SSE2__)
// A CPU that treats subnormals as zero (the DAZ flag: -ffast-math, torch.set_flush_denormal)
// reads a subnormal threshold as 0 in the vector compares: a unit whose maximum is 0 must
// still find it. One thread, so the flag set here is the one the sweep runs under.
TEST_CASE("the bracketed median finds a maximum of zero where subnormals read as zero") {
  using namespace memloc::detail::host;
  const memloc::index_t rows = 2001, units = 40;
  std::vector<std::int64_t> ids(static_cast<std::size_t>(rows));
  std::iota(ids.begin(), ids.end(), std::int64_t{0});
  std::mt19937 gen(5);
  std::uniform_int_distribution<int> level(-6, 1);
  std::vector<double> sums(static_cast<std::size_t>(rows * units));
  for (memloc::index_t r = 0; r < rows; ++r) {
    for (memloc::index_t u = 0; u < units; ++u) {
      // Even units all +0 or -0, odd ones negative levels and zeros.
      const int l = level(gen);
      sums[static_cast<std::size_t>(r * units + u)] = u % 2 == 0 ? (l < 0 ? -0.0 : 0.0) : std::min(l, 0);
    }
  }
  const mu_from_sums mu{sums.data(), ids.data(), units, 1};
  std::vector<unit_column_stats> expected(static_cast<std::size_t>(units));
  column_medians_by_columns(memloc::host_exec{1}, mu, rows, expected.data(), median_columns_budget);
  const unsigned int saved = _mm_getcsr();
  for (const bool avx2 : {true, false}) {
    std::vector<unit_column_stats> got(static_cast<std::size_t>(units));
    _mm_setcsr(saved | 0x0040u);  // DAZ
    bracketed_medians(memloc::host_exec{1}, mu, rows, got.data(), median_columns_budget, median_bracketing{256, 0, 2, avx2});
    _mm_setcsr(saved);
    for (memloc::index_t u = 0; u < units; ++u) {
      const auto& a = expected[static_cast<std::size_t>(u)];
      const auto& b = got[static_cast<std::size_t>(u)];
      INFO("avx2 " << avx2 << ", unit " << u);
      CHECK(a.top == 0.0);
      CHECK(std::memcmp(&a.top, &b.top, sizeof a.top) == 0);
      CHECK(std::memcmp(&a.rest, &b.rest, sizeof a.rest) == 0);
      CHECK(a.top_row == b.top_row);
    }
  }
}
#endif

// The per-sample view budget counts a batch's ids in a slot per id: the id it names is the
// smallest over budget, whatever the batch's order, and a refused batch leaves no count
// behind (the next batch's distinct ids take the row-range update, and fold as the oracle's).
TEST_CASE("the per-sample view budget names the smallest id over it and leaves no count behind when it refuses") {
  const memloc::host_exec exec{2};
  const memloc::index_t units = 3;
  memloc::unitmem_options options;
  options.rest = memloc::rest_reduction::median;
  memloc::unitmem_accumulator acc(exec, memloc::unitmem_shape{10, units, 2, 1}, options);
  std::vector<float> x(7 * units);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7) % 11);
  const auto batch = memloc::dense_sample_major(x.data(), 7, 1, units);
  const std::vector<std::int64_t> over = {7, 7, 7, 5, 2, 2, 2};  // 7 and 2 take three views of two
  CHECK_THROWS_WITH_AS(acc.update(exec, batch, memloc::make_vector_view(over.data(), 7)),
                       doctest::Contains("views folded for sample id 2 must be at most 2, got 3 with this batch"),
                       memloc::logic_error);
  // Each sample twice, one view at a time, in the order 6..0 and then 0..6.
  const std::vector<std::int64_t> down = {6, 5, 4, 3, 2, 1, 0}, up = {0, 1, 2, 3, 4, 5, 6};
  acc.update(exec, batch, memloc::make_vector_view(down.data(), 7));
  acc.update(exec, batch, memloc::make_vector_view(up.data(), 7));
  std::vector<std::vector<double>> mu(7, std::vector<double>(units));
  for (std::size_t b = 0; b < 7; ++b) {
    for (std::size_t u = 0; u < static_cast<std::size_t>(units); ++u) {
      mu[b][u] = (static_cast<double>(x[(6 - b) * units + u]) + static_cast<double>(x[b * units + u])) / 2.0;
    }
  }
  const auto expected = oracle::unitmem(mu, true);
  std::vector<double> um(static_cast<std::size_t>(units)), top(um.size()), others(um.size());
  std::vector<std::int64_t> argmax(top.size());
  acc.finalize(exec, {memloc::make_vector_view(um.data(), units), memloc::make_vector_view(top.data(), units),
                      memloc::make_vector_view(argmax.data(), units), memloc::make_vector_view(others.data(), units)});
  for (std::size_t u = 0; u < top.size(); ++u) {
    INFO("unit " << u);
    CHECK(top[u] == doctest::Approx(expected.top[u]).epsilon(1e-6));
    CHECK(argmax[u] == expected.top_index[u]);
    CHECK(others[u] == doctest::Approx(expected.rest[u]).epsilon(1e-6));
  }
}

// The bracketed median's selection slices a range of selection bits: every rank of lists
// with ties, with bounds that are the values' own or wider (the whole 32-bit range, where a
// slice's end would pass 2^32), against a sort.
TEST_CASE("kth_smallest_in_range and kth_pair_in_range give every rank of a sort, within tight or the widest bounds") {
  std::mt19937 gen(1801);
  for (const int n : {1, 2, 3, 17, 256, 257, 1000}) {
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<std::uint32_t> bits(static_cast<std::size_t>(n)), work(bits.size());
      std::uniform_int_distribution<std::uint32_t> any(0u, 0xFFFFFFFFu), few(0u, 3u), near(0x9F000000u, 0x9F000400u);
      for (auto& x : bits) {
        switch (trial) {
          case 0: x = any(gen); break;
          case 1: x = few(gen) == 0 ? 0u : few(gen) == 1 ? 0xFFFFFFFFu : 0x80000000u; break;  // ties at both ends
          case 2: x = near(gen); break;                                                          // one narrow range
          default: x = 0x3F800000u + few(gen); break;                                            // a few levels
        }
      }
      std::vector<std::uint32_t> sorted = bits;
      std::sort(sorted.begin(), sorted.end());
      for (memloc::index_t k = 0; k < n; ++k) {
        INFO("n " << n << ", trial " << trial << ", rank " << k);
        const auto range = memloc::detail::host::range_of_bits(bits.data(), n);
        CHECK(range.low == sorted.front());
        CHECK(range.high == sorted.back());
        CHECK(memloc::detail::host::kth_smallest_in_range(bits.data(), n, k, work.data(), range.low, range.high) ==
              sorted[static_cast<std::size_t>(k)]);
        CHECK(memloc::detail::host::kth_smallest_in_range(bits.data(), n, k, work.data(), 0u, 0xFFFFFFFFu) ==
              sorted[static_cast<std::size_t>(k)]);
      }
      // Two ranks at once: the same, whether a round parts them early, late or never.
      std::vector<std::uint32_t> pair_work(static_cast<std::size_t>(2 * n + 3));
      for (memloc::index_t k = 0; k < n; ++k) {
        for (const memloc::index_t k2 : {k, k + 1, k + n / 3, memloc::index_t{n} - 1}) {
          if (k2 >= n || k2 < k) continue;
          INFO("n " << n << ", trial " << trial << ", ranks " << k << " and " << k2);
          const auto range = memloc::detail::host::range_of_bits(bits.data(), n);
          for (const auto& bounds : {range, memloc::detail::host::bits_range{0u, 0xFFFFFFFFu}}) {
            const auto got = memloc::detail::host::kth_pair_in_range(bits.data(), n, k, k2, pair_work.data(), bounds.low,
                                                                     bounds.high);
            CHECK(got.low == sorted[static_cast<std::size_t>(k)]);
            CHECK(got.high == sorted[static_cast<std::size_t>(k2)]);
          }
        }
      }
    }
  }
}

TEST_CASE("the host median by radix selection matches a sort, with ties, signs, zeros and infinities") {
  std::mt19937 gen(2024);
  const std::vector<float> specials = {0.0f, -0.0f, 1.0f, -1.0f, 1e-38f, -1e-38f, 3e38f, -3e38f,
                                       std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                       std::numeric_limits<float>::denorm_min()};
  for (const int n : {1, 2, 3, 4, 5, 17, 64, 255, 256, 1000, 4099}) {
    for (int trial = 0; trial < 6; ++trial) {
      std::vector<float> values(static_cast<std::size_t>(n));
      std::uniform_real_distribution<float> wide(-5.0f, 5.0f);
      std::uniform_int_distribution<int> level(0, 3), pick(0, static_cast<int>(specials.size()) - 1);
      for (auto& x : values) {
        switch (trial) {
          case 0: x = wide(gen); break;
          case 1: x = static_cast<float>(level(gen)); break;  // heavy ties
          case 2: x = specials[static_cast<std::size_t>(pick(gen))]; break;
          case 3: x = 1.0f + wide(gen) * 1e-6f; break;  // one binade: a single top digit
          case 4: x = -std::abs(wide(gen)); break;
          default: x = wide(gen) * 1e-40f; break;  // subnormals
        }
      }
      std::vector<float> sorted = values;
      std::sort(sorted.begin(), sorted.end());
      const double expected = n % 2 == 1 ? static_cast<double>(sorted[static_cast<std::size_t>(n / 2)])
                                         : 0.5 * (static_cast<double>(sorted[static_cast<std::size_t>(n / 2 - 1)]) +
                                                  static_cast<double>(sorted[static_cast<std::size_t>(n / 2)]));
      const double got = selected_median(values.data(), n);
      INFO("n = " << n << ", trial " << trial);
      CHECK(got == expected);
    }
  }
}

TEST_CASE("the median takes -0 as +0 (detail::selection_bits), as the device's radix selection does") {
  // Odd count: the middle of {-0, -0, +0} is a zero; the rule makes it +0 whatever the signs.
  std::vector<float> odd = {-0.0f, -0.0f, 0.0f};
  const double odd_median = selected_median(odd.data(), 3);
  CHECK(odd_median == 0.0);
  CHECK_FALSE(std::signbit(odd_median));
  // Even count: the two middle values of {-0, 1, -0, -0} are negative zeros.
  std::vector<float> even = {-0.0f, 1.0f, -0.0f, -0.0f};
  const double even_median = selected_median(even.data(), 4);
  CHECK(even_median == 0.0);
  CHECK_FALSE(std::signbit(even_median));
  // The two zeros are one selection value, so they tie and count as one rank.
  CHECK(memloc::detail::selection_bits(-0.0f) == memloc::detail::selection_bits(0.0f));
  CHECK(memloc::detail::selection_bits(-1e-45f) < memloc::detail::selection_bits(-0.0f));
  CHECK(memloc::detail::selection_bits(0.0f) < memloc::detail::selection_bits(1e-45f));
}

}  // namespace testing

namespace testing {

// Issue 16: the one-shot functions name samples by row through detail::sequential_ids and
// fold them without the checks of a caller's ids, which those ids cannot fail; a caller's
// ids, given to an accumulator, are still checked.
TEST_CASE("one-shot unitmem, classmem and alignment fold their row ids unchecked; caller ids stay checked") {
  CHECK(memloc::detail::sequential_ids(4) == std::vector<std::int64_t>{0, 1, 2, 3});
  CHECK(memloc::detail::sequential_ids(0).empty());
  const auto values = random_activations(6, 2, 3, 1, 77);
  auto stored = store_activations<float>(values, act_layout::nchw_sample_major);
  auto reps = store_representations<float>(random_representations(6, 2, 5, 78), rep_layout::sample_major);
  const std::vector<std::int64_t> labels{0, 1, 0, 1, 0, 1};
  const auto label_view = memloc::make_vector_view(labels.data(), 6);
  const memloc::host_exec exec{};
  auto& checks = memloc::detail::test_hooks::sample_id_checks;

  const long before = checks.load();
  std::vector<double> um(3), cm(3), sf(6), sg(6);
  for (const auto storage : {memloc::unitmem_storage::per_unit, memloc::unitmem_storage::per_sample}) {
    memloc::unitmem(exec, stored.view, {memloc::make_vector_view(um.data(), 3)}, {memloc::rest_reduction::mean, {}, storage});
  }
  memloc::classmem(exec, stored.view, label_view, 2, {memloc::make_vector_view(cm.data(), 3)});
  memloc::alignment(exec, reps.view, reps.view, memloc::make_vector_view(sf.data(), 6), memloc::make_vector_view(sg.data(), 6));
  CHECK(checks.load() == before);

  // The same rows under the caller's ids 0..5 are checked, and give the same results.
  const auto ids = memloc::detail::sequential_ids(6);
  const auto id_view = memloc::make_vector_view(ids.data(), 6);
  memloc::unitmem_accumulator<memloc::host_space> u(exec, memloc::detail::one_shot_unitmem_shape(stored.view));
  u.update(exec, stored.view, id_view);
  std::vector<double> um2(3);
  u.finalize(exec, {memloc::make_vector_view(um2.data(), 3)});
  memloc::classmem_accumulator<memloc::host_space> c(exec, memloc::detail::one_shot_classmem_shape(stored.view, 2));
  c.update(exec, stored.view, id_view, label_view);
  std::vector<double> cm2(3);
  c.finalize(exec, {memloc::make_vector_view(cm2.data(), 3)});
  memloc::alignment_accumulator<memloc::host_space> a(exec, memloc::detail::one_shot_alignment_shape(reps.view));
  a.update(exec, reps.view, reps.view, id_view);
  CHECK(checks.load() == before + 3);
  CHECK(um2 == um);
  CHECK(cm2 == cm);

  // A repeated or out-of-range caller id is refused as before.
  const std::vector<std::int64_t> repeated{0, 1, 2, 3, 4, 4}, outside{0, 1, 2, 3, 4, 6};
  memloc::unitmem_accumulator<memloc::host_space> fresh(exec, memloc::detail::one_shot_unitmem_shape(stored.view));
  CHECK_THROWS_WITH(fresh.update(exec, stored.view, memloc::make_vector_view(repeated.data(), 6)),
                    doctest::Contains("sample_ids must be distinct within a batch, got 4 twice"));
  CHECK_THROWS_WITH(fresh.update(exec, stored.view, memloc::make_vector_view(outside.data(), 6)),
                    doctest::Contains("sample_ids(5) must be in [0, 6), got 6"));
}

}  // namespace testing
