// Rankings, overlaps, Kendall's τ-b, t-tests from summaries, pruning masks, layer selection
// and unit-sample links: hand-worked cases, properties, and a naive O(n^2) τ-b oracle.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "analysis_support.hpp"

namespace testing {
namespace {

// ---- ranking and top-k ----------------------------------------------------------------

TEST_CASE("top_k_size: counts, and fractions rounded up without floating-point surprises") {
  CHECK(memloc::top_k_size(top_count(7), 10) == 7);
  CHECK(memloc::top_k_size(top_fraction(0.1), 100) == 10);
  CHECK(memloc::top_k_size(top_fraction(0.07), 100) == 7);  // 0.07 * 100 = 7.000000000000001
  CHECK(memloc::top_k_size(top_fraction(0.29), 100) == 29);
  CHECK(memloc::top_k_size(top_fraction(0.57), 100) == 57);  // 0.57 * 100 = 56.99999999999999
  CHECK(memloc::top_k_size(top_fraction(0.1), 256) == 26);   // LOC Table 12: 26 of 256 units
  CHECK(memloc::top_k_size(top_fraction(0.2), 256) == 52);
  CHECK(memloc::top_k_size(top_fraction(0.1), 5) == 1);
  CHECK(memloc::top_k_size(top_fraction(1e-9), 1000) == 1);
  CHECK(memloc::top_k_size(top_fraction(1.0), 1281167) == 1281167);
  CHECK(memloc::top_k_size(top_fraction(0.01), 1281167) == 12812);
  CHECK(memloc::top_k_size(top_fraction(0.1), 50000) == 5000);
  // Every percentage of every n up to 1000 gives the exact ceiling of pct * n / 100.
  for (std::int64_t n = 1; n <= 1000; ++n) {
    for (std::int64_t pct = 1; pct <= 100; ++pct) {
      const std::int64_t expected = (pct * n + 99) / 100;
      const auto k = memloc::top_k_size(top_fraction(static_cast<double>(pct) / 100.0), n);
      if (k != expected) FAIL("pct ", pct, " of ", n, ": ", k, " instead of ", expected);
    }
  }
}

TEST_CASE("rank_scores and top_k_indices: ties by lower index, NaN last in both directions") {
  const std::vector<double> s{0.5, nan, 0.9, 0.5, -1.0, 0.9, nan, 0.1};
  const auto top = memloc::rank_scores(exec, view_of(s));
  CHECK(top.indices == std::vector<index_t>{2, 5, 0, 3, 7, 4, 1, 6});
  CHECK(top.nan_count == 2);
  const auto least = memloc::rank_scores(exec, view_of(s), rank_direction::least);
  CHECK(least.indices == std::vector<index_t>{4, 7, 0, 3, 2, 5, 1, 6});
  CHECK(memloc::top_k_indices(exec, view_of(s), top_count(3)).indices == std::vector<index_t>{2, 5, 0});
  CHECK(memloc::top_k_indices(exec, view_of(s), top_count(7)).indices == std::vector<index_t>{2, 5, 0, 3, 7, 4, 1});
  CHECK(memloc::top_k_indices(exec, view_of(s), top_fraction(0.25), rank_direction::least).indices ==
        std::vector<index_t>{4, 7});
  // float scores and a strided view give the same ranking.
  std::vector<float> padded;
  for (const double v : s) {
    padded.push_back(static_cast<float>(v));
    padded.push_back(123.0f);
  }
  const memloc::vector_view<const float> strided(padded.data(), {8}, {2});
  CHECK(memloc::rank_scores(exec, strided).indices == top.indices);
}

TEST_CASE("top_k_indices is the head of rank_scores and does not depend on where items sit") {
  std::mt19937_64 gen(11);
  for (int trial = 0; trial < 20; ++trial) {
    const std::size_t n = 1 + gen() % 300;
    std::vector<double> s(n);
    for (auto& v : s) v = static_cast<double>(gen() % 17);  // many ties
    if (trial % 3 == 0) s[gen() % n] = nan;
    const auto full = memloc::rank_scores(exec, view_of(s));
    const index_t k = 1 + static_cast<index_t>(gen() % n);
    const auto head = memloc::top_k_indices(exec, view_of(s), top_count(k));
    CHECK(std::equal(head.indices.begin(), head.indices.end(), full.indices.begin()));
    // And in the other direction, against LayerMem's ranking itself.
    const auto least = memloc::top_k_indices(exec, view_of(s), top_count(k), rank_direction::least);
    const auto order = memloc::detail::order_by_score(s, false);
    CHECK(std::equal(least.indices.begin(), least.indices.end(), order.begin()));
    // Permuting the items permutes the selected set, up to ties at the boundary: the
    // multiset of selected scores is the same.
    std::vector<std::size_t> perm(n);
    std::iota(perm.begin(), perm.end(), std::size_t{0});
    std::shuffle(perm.begin(), perm.end(), gen);
    std::vector<double> shuffled(n);
    for (std::size_t i = 0; i < n; ++i) shuffled[i] = s[perm[i]];
    const auto head2 = memloc::top_k_indices(exec, view_of(shuffled), top_count(k));
    std::multiset<double> a, b;
    for (const index_t i : head.indices) a.insert(std::isnan(s[static_cast<std::size_t>(i)]) ? 1e9 : s[static_cast<std::size_t>(i)]);
    for (const index_t i : head2.indices) {
      b.insert(std::isnan(shuffled[static_cast<std::size_t>(i)]) ? 1e9 : shuffled[static_cast<std::size_t>(i)]);
    }
    CHECK(a == b);
  }
}

// ---- overlaps -----------------------------------------------------------------------------

TEST_CASE("top_k_overlap: the spec's example, a set with itself, and a reversed ranking") {
  // Spec §12: top-3 sets {1, 2, 3} and {2, 3, 4} overlap in 2 of 3.
  const std::vector<double> a{0.0, 0.9, 0.8, 0.7, 0.1}, b{0.0, 0.1, 0.8, 0.7, 0.9};
  const auto r = memloc::top_k_overlap(exec, view_of(a), view_of(b), top_count(3));
  CHECK(r.k == 3);
  CHECK(r.count == 2);
  CHECK(r.fraction == doctest::Approx(2.0 / 3.0));
  const auto self = memloc::top_k_overlap(exec, view_of(a), view_of(a), top_fraction(0.4));
  CHECK(self.count == 2);
  CHECK(self.fraction == 1.0);
  std::vector<double> up(100), down(100);
  for (std::size_t i = 0; i < 100; ++i) {
    up[i] = static_cast<double>(i);
    down[i] = -static_cast<double>(i);
  }
  CHECK(memloc::top_k_overlap(exec, view_of(up), view_of(down), top_count(50)).count == 0);
  CHECK(memloc::top_k_overlap(exec, view_of(up), view_of(down), top_count(60)).count == 20);
  CHECK(memloc::top_k_overlap(exec, view_of(up), view_of(down), top_count(10), rank_direction::least).count == 0);
}

TEST_CASE("top_k_overlap_matrix: symmetric, k on the diagonal, pairs as top_k_overlap") {
  std::vector<std::vector<double>> layers;
  std::mt19937_64 gen(5);
  for (int l = 0; l < 4; ++l) {
    layers.push_back(random_values(200, gen(), 0.0, 1.0));
    if (l > 0) {
      for (std::size_t i = 0; i < 200; ++i) layers[static_cast<std::size_t>(l)][i] += layers[0][i];
    }
  }
  std::vector<memloc::named_scores<>> points;
  for (std::size_t l = 0; l < layers.size(); ++l) points.push_back({"conv" + std::to_string(l + 1), view_of(layers[l])});
  const auto m = memloc::top_k_overlap_matrix(exec, points, top_count(100));
  CHECK(m.k == 100);
  CHECK(m.names == std::vector<std::string>{"conv1", "conv2", "conv3", "conv4"});
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(m.count(i, i) == 100);
    for (std::size_t j = 0; j < 4; ++j) {
      CHECK(m.count(i, j) == m.count(j, i));
      CHECK(m.count(i, j) == memloc::top_k_overlap(exec, view_of(layers[i]), view_of(layers[j]), top_count(100)).count);
      CHECK(m.fraction(i, j) == static_cast<double>(m.count(i, j)) / 100.0);
    }
  }
}

// ---- Kendall's τ-b ----------------------------------------------------------------------------

// O(n^2) oracle: τ-b from the definition, pair by pair.
struct naive_tau {
  std::int64_t concordant = 0, discordant = 0, x_tied = 0, y_tied = 0, joint = 0;
  double tau = 0.0;
};

naive_tau naive_tau_b(const std::vector<double>& x, const std::vector<double>& y) {
  naive_tau r;
  for (std::size_t i = 0; i < x.size(); ++i) {
    for (std::size_t j = i + 1; j < x.size(); ++j) {
      const double dx = x[i] - x[j], dy = y[i] - y[j];
      if (dx == 0 && dy == 0) {
        ++r.joint;
        ++r.x_tied;
        ++r.y_tied;
      } else if (dx == 0) {
        ++r.x_tied;
      } else if (dy == 0) {
        ++r.y_tied;
      } else if ((dx > 0) == (dy > 0)) {
        ++r.concordant;
      } else {
        ++r.discordant;
      }
    }
  }
  const double total = static_cast<double>(x.size() * (x.size() - 1) / 2);
  r.tau = static_cast<double>(r.concordant - r.discordant) / std::sqrt((total - static_cast<double>(r.x_tied)) *
                                                                        (total - static_cast<double>(r.y_tied)));
  return r;
}

TEST_CASE("kendall_tau_b agrees with the O(n^2) definition on random tied inputs") {
  std::mt19937_64 gen(99);
  for (int trial = 0; trial < 60; ++trial) {
    const std::size_t n = 2 + gen() % 400;
    const std::uint64_t levels_x = 1 + gen() % 30, levels_y = 1 + gen() % 30;
    std::vector<double> x(n), y(n);
    for (std::size_t i = 0; i < n; ++i) {
      x[i] = static_cast<double>(gen() % (trial % 4 == 0 ? 1000000 : levels_x + 1));
      y[i] = static_cast<double>((trial % 2 ? gen() % (levels_y + 1) : 0) + static_cast<std::uint64_t>(x[i]) % 7);
    }
    const auto r = memloc::kendall_tau_b(exec, view_of(x), view_of(y));
    const auto o = naive_tau_b(x, y);
    INFO("trial ", trial, " n=", n);
    CHECK(r.discordant == o.discordant);
    CHECK(r.x_tied == o.x_tied);
    CHECK(r.y_tied == o.y_tied);
    CHECK(r.joint_tied == o.joint);
    if (o.x_tied == static_cast<std::int64_t>(n * (n - 1) / 2) || o.y_tied == static_cast<std::int64_t>(n * (n - 1) / 2)) {
      CHECK(std::isnan(r.tau));
    } else {
      CHECK(close(r.tau, o.tau, 1e-13, 1e-15));
    }
  }
}

TEST_CASE("kendall_tau_b: τ(x, x) = 1, τ(x, reversed) = -1, order and scale invariance") {
  std::vector<double> x = random_values(500, 3);
  x[7] = x[8];  // a tie
  std::vector<double> rev(x.size()), scaled(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    rev[i] = -x[i];
    scaled[i] = 3.0 * x[i] + 1.0;
  }
  // SciPy's arrangement S / sqrt(pairs - x ties) / sqrt(pairs - y ties) is within an ulp of ±1.
  CHECK(memloc::kendall_tau_b(exec, view_of(x), view_of(x)).tau == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(memloc::kendall_tau_b(exec, view_of(x), view_of(rev)).tau == doctest::Approx(-1.0).epsilon(1e-15));
  const std::vector<double> y = random_values(500, 4);
  const auto base = memloc::kendall_tau_b(exec, view_of(x), view_of(y));
  CHECK(memloc::kendall_tau_b(exec, view_of(scaled), view_of(y)).tau == base.tau);
  // Swapping x and y, or permuting the pairs, leaves everything unchanged.
  const auto swapped = memloc::kendall_tau_b(exec, view_of(y), view_of(x));
  CHECK(swapped.tau == doctest::Approx(base.tau).epsilon(1e-15));
  CHECK(swapped.p_value == doctest::Approx(base.p_value).epsilon(1e-15));
  std::vector<std::size_t> perm(x.size());
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  std::shuffle(perm.begin(), perm.end(), std::mt19937_64(8));
  std::vector<double> px(x.size()), py(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    px[i] = x[perm[i]];
    py[i] = y[perm[i]];
  }
  const auto permuted = memloc::kendall_tau_b(exec, view_of(px), view_of(py));
  CHECK(permuted.tau == base.tau);
  CHECK(permuted.p_value == base.p_value);
  CHECK(permuted.discordant == base.discordant);
}

TEST_CASE("kendall_tau_b: hand-worked cases and edge cases") {
  // x = 1..5, y = 2 1 4 3 5: 2 discordant of 10 pairs, τ = (8 - 2)/10; the exact two-sided p
  // is 2 P(at most 2 inversions in a permutation of 5) = 2 (1 + 4 + 9)/120 = 7/30.
  const std::vector<double> x{1, 2, 3, 4, 5}, y{2, 1, 4, 3, 5};
  const auto r = memloc::kendall_tau_b(exec, view_of(x), view_of(y));
  CHECK(r.tau == doctest::Approx(0.6));
  CHECK(r.p_value == doctest::Approx(7.0 / 30.0));
  CHECK(r.exact);
  CHECK(r.discordant == 2);
  // Greater: P(at least 8 concordant) = P(at most 2 inversions) = 14/120.
  CHECK(memloc::kendall_tau_b(exec, view_of(x), view_of(y), {memloc::alternative::greater}).p_value ==
        doctest::Approx(14.0 / 120.0));
  // Less: P(at most 8 concordant) = 1 - P(at least 9) = 1 - 5/120.
  CHECK(memloc::kendall_tau_b(exec, view_of(x), view_of(y), {memloc::alternative::less}).p_value ==
        doctest::Approx(115.0 / 120.0));
  const auto asym = memloc::kendall_tau_b(exec, view_of(x), view_of(y), {memloc::alternative::two_sided,
                                                                         memloc::kendall_method::asymptotic});
  CHECK_FALSE(asym.exact);
  // S = 6, var = n(n-1)(2n+5)/18 = 50/3; p = erfc(6 / sqrt(100/3)).
  CHECK(asym.p_value == doctest::Approx(std::erfc(6.0 / std::sqrt(100.0 / 3.0))).epsilon(1e-14));
  // Constant input or NaN: NaN, no error.
  const std::vector<double> constant(5, 2.0), with_nan{1, 2, nan, 4, 5};
  CHECK(std::isnan(memloc::kendall_tau_b(exec, view_of(constant), view_of(y)).tau));
  CHECK(std::isnan(memloc::kendall_tau_b(exec, view_of(x), view_of(constant)).p_value));
  const auto nan_result = memloc::kendall_tau_b(exec, view_of(with_nan), view_of(y));
  CHECK(std::isnan(nan_result.tau));
  CHECK(std::isnan(nan_result.p_value));
  // More than 2^32 pairs: the counts are 64-bit.
  std::vector<double> big(100000), big_rev(100000);
  for (std::size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<double>(i / 3);
    big_rev[i] = -big[i];
  }
  const auto b = memloc::kendall_tau_b(exec, view_of(big), view_of(big_rev));
  CHECK(b.x_tied == 33333 * 3);  // 33 333 runs of 3 (3 pairs each) and one single item
  CHECK(b.joint_tied == b.x_tied);
  CHECK(b.discordant == std::int64_t{100000} * 99999 / 2 - b.x_tied);
  CHECK(b.tau == doctest::Approx(-1.0).epsilon(1e-15));
  CHECK(b.p_value == 0.0);
}

TEST_CASE("kendall_tau_b_top_k_union: τ-b over the items in either top-k set") {
  std::mt19937_64 gen(21);
  for (int trial = 0; trial < 10; ++trial) {
    std::vector<double> x = random_values(300, gen()), y = random_values(300, gen());
    for (std::size_t i = 0; i < 300; ++i) y[i] += x[i];
    const index_t k = 10 + trial * 7;
    const auto r = memloc::kendall_tau_b_top_k_union(exec, view_of(x), view_of(y), top_count(k));
    const auto tx = memloc::top_k_indices(exec, view_of(x), top_count(k)).indices;
    const auto ty = memloc::top_k_indices(exec, view_of(y), top_count(k)).indices;
    std::set<index_t> both(tx.begin(), tx.end());
    both.insert(ty.begin(), ty.end());
    std::vector<double> ux, uy;
    for (const index_t i : both) {
      ux.push_back(x[static_cast<std::size_t>(i)]);
      uy.push_back(y[static_cast<std::size_t>(i)]);
    }
    const auto direct = memloc::kendall_tau_b(exec, view_of(ux), view_of(uy));
    CHECK(r.n == static_cast<index_t>(both.size()));
    CHECK(r.tau == direct.tau);
    CHECK(r.p_value == direct.p_value);
    const auto overlap = memloc::top_k_overlap(exec, view_of(x), view_of(y), top_count(k));
    CHECK(r.n == 2 * k - overlap.count);
  }
  // One shared top item: a single pair of observations, τ undefined.
  const std::vector<double> a{3, 1, 2}, b{3, 2, 1};
  const auto one = memloc::kendall_tau_b_top_k_union(exec, view_of(a), view_of(b), top_count(1));
  CHECK(one.n == 1);
  CHECK(std::isnan(one.tau));
}

// ---- t-tests and summaries ------------------------------------------------------------------

TEST_CASE("sample_summary: Welford updates and Chan merges in any split equal the raw-sample t-test") {
  const std::vector<double> a = random_values(1000, 31, 5.0, 7.0), b = random_values(700, 32, 5.5, 6.0);
  const auto whole_a = memloc::summarize(exec, view_of(a)), whole_b = memloc::summarize(exec, view_of(b));
  std::mt19937_64 gen(33);
  for (int trial = 0; trial < 20; ++trial) {
    // Random chunks, each summarised by add(), merged in a random order.
    std::vector<memloc::sample_summary> parts;
    std::size_t i = 0;
    while (i < a.size()) {
      const std::size_t len = std::min(a.size() - i, static_cast<std::size_t>(gen() % 150));
      memloc::sample_summary s;
      for (std::size_t j = i; j < i + len; ++j) s.add(a[j]);
      parts.push_back(s);
      i += len;
    }
    std::shuffle(parts.begin(), parts.end(), gen);
    memloc::sample_summary merged;
    for (const auto& p : parts) merged.merge(p);
    CHECK(merged.n == whole_a.n);
    CHECK(merged.mean == doctest::Approx(whole_a.mean).epsilon(1e-14));
    CHECK(merged.m2 == doctest::Approx(whole_a.m2).epsilon(1e-12));
    for (const auto kind : {memloc::t_test_kind::student, memloc::t_test_kind::welch}) {
      for (const auto alt : {memloc::alternative::two_sided, memloc::alternative::greater, memloc::alternative::less}) {
        const auto raw = memloc::t_test(exec, view_of(a), view_of(b), {kind, alt});
        const auto from = memloc::t_test(merged, whole_b, {kind, alt});
        CHECK(from.statistic == doctest::Approx(raw.statistic).epsilon(1e-12));
        CHECK(from.df == doctest::Approx(raw.df).epsilon(1e-12));
        CHECK(from.p_value == doctest::Approx(raw.p_value).epsilon(1e-10));
      }
    }
  }
  // Merging an empty summary changes nothing; merging into an empty one copies.
  memloc::sample_summary empty, copy;
  copy.merge(whole_a);
  CHECK(copy.mean == whole_a.mean);
  copy.merge(empty);
  CHECK(copy.m2 == whole_a.m2);
  CHECK(std::isnan(empty.variance()));
}

TEST_CASE("t_test: hand-worked Student and Welch values") {
  // a = 1 2 3, b = 4 5 6: means 2 and 5, variances 1; pooled se = sqrt(2/3), t = -3/sqrt(2/3).
  const std::vector<double> a{1, 2, 3}, b{4, 5, 6};
  const auto s = memloc::t_test(exec, view_of(a), view_of(b));
  CHECK(s.statistic == doctest::Approx(-3.0 / std::sqrt(2.0 / 3.0)));
  CHECK(s.df == 4.0);
  // With 4 df, P(T <= -t) = 1/2 - (t / sqrt(4 + t^2)) (1 + 2 / (4 + t^2)) / 2 (closed form for even df).
  const double t = 3.0 / std::sqrt(2.0 / 3.0), q = 4.0 + t * t;
  const double tail = 0.5 - 0.5 * (t / std::sqrt(q)) * (1.0 + 2.0 / q);
  CHECK(s.p_value == doctest::Approx(2.0 * tail).epsilon(1e-13));
  CHECK(memloc::t_test(exec, view_of(a), view_of(b), {memloc::t_test_kind::student, memloc::alternative::less}).p_value ==
        doctest::Approx(tail).epsilon(1e-13));
  CHECK(memloc::t_test(exec, view_of(a), view_of(b), {memloc::t_test_kind::student, memloc::alternative::greater}).p_value ==
        doctest::Approx(1.0 - tail).epsilon(1e-13));
  // Welch with equal sizes and variances has the same t; df = (2/3)^2 / (2 (1/3)^2 / 2) = 4.
  const auto w = memloc::t_test(exec, view_of(a), view_of(b), {memloc::t_test_kind::welch});
  CHECK(w.statistic == doctest::Approx(s.statistic));
  CHECK(w.df == doctest::Approx(4.0));
  // From summaries given directly.
  const auto f = memloc::t_test(memloc::sample_summary{3, 2.0, 2.0}, memloc::sample_summary{3, 5.0, 2.0});
  CHECK(f.statistic == doctest::Approx(s.statistic));
  // Zero variances: ±inf and p = 0 for different means, NaN for equal ones (SciPy).
  const auto inf = memloc::t_test(memloc::sample_summary{4, 1.0, 0.0}, memloc::sample_summary{5, 2.0, 0.0});
  CHECK(inf.statistic == -std::numeric_limits<double>::infinity());
  CHECK(inf.p_value == 0.0);
  const auto same = memloc::t_test(memloc::sample_summary{4, 1.0, 0.0}, memloc::sample_summary{5, 1.0, 0.0},
                                   {memloc::t_test_kind::welch});
  CHECK(std::isnan(same.statistic));
  CHECK(same.df == 1.0);
  CHECK(std::isnan(same.p_value));
  // A NaN value propagates through the summary.
  memloc::sample_summary with_nan;
  for (const double v : {1.0, nan, 3.0}) with_nan.add(v);
  CHECK(std::isnan(memloc::t_test(with_nan, memloc::sample_summary{3, 5.0, 2.0}).p_value));
}

// ---- pruning masks ---------------------------------------------------------------------------

std::vector<memloc::named_scores<>> as_layers(const std::vector<std::vector<double>>& values) {
  std::vector<memloc::named_scores<>> layers;
  for (std::size_t l = 0; l < values.size(); ++l) layers.push_back({"layer" + std::to_string(l), view_of(values[l])});
  return layers;
}

void check_mask_consistency(const memloc::unit_masks& m, const std::vector<std::vector<double>>& values) {
  REQUIRE(m.pruned.size() == values.size());
  for (std::size_t l = 0; l < values.size(); ++l) {
    REQUIRE(m.pruned[l].size() == values[l].size());
    CHECK(std::is_sorted(m.units[l].begin(), m.units[l].end()));
    std::vector<index_t> from_mask;
    for (std::size_t u = 0; u < values[l].size(); ++u) {
      if (m.pruned[l][u]) from_mask.push_back(static_cast<index_t>(u));
    }
    CHECK(from_mask == m.units[l]);
  }
}

TEST_CASE("pruning_masks: top, low and random per layer take exactly ceil(p * units) units") {
  std::vector<std::vector<double>> values{random_values(64, 1, 0.0, 1.0), random_values(256, 2, 0.0, 1.0),
                                          random_values(7, 3, 0.0, 1.0)};
  values[1][5] = nan;
  values[1][6] = nan;
  const auto layers = as_layers(values);
  const std::vector<index_t> expected{7, 26, 1};
  for (const auto sel : {memloc::prune_selection::top, memloc::prune_selection::low, memloc::prune_selection::random}) {
    const auto m = memloc::pruning_masks(exec, layers, {sel, memloc::prune_scope::per_layer, top_fraction(0.1), 4});
    check_mask_consistency(m, values);
    CHECK(m.names == std::vector<std::string>{"layer0", "layer1", "layer2"});
    CHECK(m.nan_units == std::vector<index_t>{0, 2, 0});
    for (std::size_t l = 0; l < 3; ++l) CHECK(static_cast<index_t>(m.units[l].size()) == expected[l]);
    if (sel == memloc::prune_selection::random) continue;
    for (std::size_t l = 0; l < 3; ++l) {
      // Every selected unit is at least as extreme as every unselected number, and no NaN is taken.
      double worst_in = sel == memloc::prune_selection::top ? 1e9 : -1e9;
      double best_out = -worst_in;
      for (std::size_t u = 0; u < values[l].size(); ++u) {
        const double v = values[l][u];
        if (m.pruned[l][u]) CHECK_FALSE(std::isnan(v));
        if (std::isnan(v)) continue;
        if (m.pruned[l][u]) {
          worst_in = sel == memloc::prune_selection::top ? std::min(worst_in, v) : std::max(worst_in, v);
        } else {
          best_out = sel == memloc::prune_selection::top ? std::max(best_out, v) : std::min(best_out, v);
        }
      }
      CHECK((sel == memloc::prune_selection::top ? worst_in >= best_out : worst_in <= best_out));
    }
  }
  // Seeded random: the same seed gives the same mask, layers get different draws.
  const auto r1 = memloc::pruning_masks(exec, layers, {memloc::prune_selection::random, memloc::prune_scope::per_layer,
                                                       top_fraction(0.2), 9});
  const auto r2 = memloc::pruning_masks(exec, layers, {memloc::prune_selection::random, memloc::prune_scope::per_layer,
                                                       top_fraction(0.2), 9});
  const auto r3 = memloc::pruning_masks(exec, layers, {memloc::prune_selection::random, memloc::prune_scope::per_layer,
                                                       top_fraction(0.2), 10});
  CHECK(r1.units == r2.units);
  CHECK(r1.units != r3.units);
  CHECK(r1.units[1].size() == 52);
}

TEST_CASE("pruning_masks: total scope ranks all units together") {
  // Layer 0 holds the largest values, so top total takes from it first; ties between layers
  // go to the earlier layer.
  const std::vector<std::vector<double>> values{{0.9, 0.8, 0.5}, {0.5, 0.1, 0.2, 0.7}, {0.95}};
  const auto layers = as_layers(values);
  const auto top = memloc::pruning_masks(exec, layers, {memloc::prune_selection::top, memloc::prune_scope::total, top_count(4)});
  check_mask_consistency(top, values);
  CHECK(top.units == std::vector<std::vector<index_t>>{{0, 1}, {3}, {0}});
  const auto top5 = memloc::pruning_masks(exec, layers, {memloc::prune_selection::top, memloc::prune_scope::total, top_count(5)});
  CHECK(top5.units == std::vector<std::vector<index_t>>{{0, 1, 2}, {3}, {0}});
  const auto low = memloc::pruning_masks(exec, layers, {memloc::prune_selection::low, memloc::prune_scope::total,
                                                        top_fraction(0.25)});
  CHECK(low.units == std::vector<std::vector<index_t>>{{}, {1, 2}, {}});
  const auto random = memloc::pruning_masks(exec, layers, {memloc::prune_selection::random, memloc::prune_scope::total,
                                                           top_count(5), 3});
  check_mask_consistency(random, values);
  index_t total = 0;
  for (const auto& u : random.units) total += static_cast<index_t>(u.size());
  CHECK(total == 5);
  // The flat draw is detail::random_subset over the 8 units in layer order.
  const auto flat = memloc::detail::random_subset(8, 5, 3);
  std::vector<std::vector<index_t>> expected(3);
  for (const index_t f : flat) {
    if (f < 3) expected[0].push_back(f);
    else if (f < 7) expected[1].push_back(f - 3);
    else expected[2].push_back(0);
  }
  CHECK(random.units == expected);
}

// ---- layer selection ---------------------------------------------------------------------------

TEST_CASE("select_layers: LOC Table 18 ΔLayerMem picks {8, 6, 4} with the tie at 0.029 going to the earlier point") {
  const std::vector<std::string> names{"1", "2", "3", "4", "5", "6", "7", "8"};
  const std::vector<double> delta{nan, 0.026, 0.027, 0.029, 0.028, 0.031, 0.029, 0.032};
  const auto most = memloc::select_layers(exec, names, view_of(delta), 3);
  CHECK(most.points == std::vector<index_t>{7, 5, 3});
  CHECK(most.names == std::vector<std::string>{"8", "6", "4"});
  CHECK(most.nan_count == 1);
  const auto least = memloc::select_layers(exec, names, view_of(delta), 3, rank_direction::least);
  CHECK(least.names == std::vector<std::string>{"2", "3", "5"});
  // All points: the NaN Δ of the first point comes last.
  CHECK(memloc::select_layers(exec, names, view_of(delta), 8).points.back() == 0);
}

// ---- units and samples ---------------------------------------------------------------------------

TEST_CASE("units_to_samples: argmax scores and per-sample counts over the top units (LOC Table 12)") {
  // 10 units, 6 samples; sample 2 is the argmax of three of the top-4 units.
  const std::vector<double> unitmem{0.9, 0.1, 0.8, nan, 0.85, 0.2, 0.3, 0.95, 0.0, 0.4};
  const std::vector<std::int64_t> argmax{2, 0, 2, 1, 5, 3, 4, 2, 1, 0};
  const std::vector<double> sslmem{0.1, 0.2, 0.891, 0.3, 0.4, 0.694};
  const auto links = memloc::units_to_samples(exec, view_of(unitmem), view_of(argmax), view_of(sslmem), top_fraction(0.4));
  CHECK(links.top_units == std::vector<index_t>{7, 0, 4, 2});
  CHECK(links.top_unit_count == std::vector<index_t>{0, 0, 3, 0, 0, 1});
  CHECK(links.nan_units == 1);
  REQUIRE(links.argmax_score.size() == 10);
  for (std::size_t u = 0; u < 10; ++u) CHECK(links.argmax_score[u] == sslmem[static_cast<std::size_t>(argmax[u])]);
  // The counts add up to the number of top units, for any k up to the non-NaN count.
  for (index_t k = 1; k <= 9; ++k) {
    const auto l = memloc::units_to_samples(exec, view_of(unitmem), view_of(argmax), view_of(sslmem), top_count(k));
    CHECK(std::accumulate(l.top_unit_count.begin(), l.top_unit_count.end(), index_t{0}) == k);
  }
  // int32 ids work as well.
  const std::vector<std::int32_t> ids32(argmax.begin(), argmax.end());
  CHECK(memloc::units_to_samples(exec, view_of(unitmem), view_of(ids32), view_of(sslmem), top_fraction(0.4)).top_unit_count ==
        links.top_unit_count);
}

}  // namespace
}  // namespace testing
