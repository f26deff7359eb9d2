// The analysis functions on device scores give exactly what they give on the host (the host
// versions need no Eigen, so this translation unit calls both), and reject the same inputs
// with the same messages.

#include "cuda_support.cuh"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#define CHECK_MEMLOC_ERROR(expr, text) CHECK_THROWS_WITH_AS(expr, doctest::Contains(text), memloc::logic_error)

namespace testing {
namespace {

// Scores with ties (values on a coarse grid) and a few NaN.
std::vector<double> tied_scores(std::size_t n, std::uint64_t seed, bool with_nan) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int> grid(0, 40);
  std::vector<double> v(n);
  for (double& x : v) x = 0.025 * grid(gen) - 0.3;
  if (with_nan) {
    for (std::size_t i = 3; i < n; i += 97) v[i] = std::numeric_limits<double>::quiet_NaN();
  }
  return v;
}

template <class T>
std::vector<T> as(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

struct placed {
  cuda_arena mem;
  std::vector<std::vector<double>> keep;
  // Every other element of a buffer twice as long, so strides are exercised too.
  memloc::vector_view<const double, memloc::device_space> strided(const std::vector<double>& values) {
    keep.emplace_back(values.size() * 2, std::numeric_limits<double>::quiet_NaN());
    auto& storage = keep.back();
    for (std::size_t i = 0; i < values.size(); ++i) storage[2 * i] = values[i];
    return mem.place(storage, memloc::vector_view<const double>(storage.data(), {static_cast<index_t>(values.size())}, {2}));
  }
};

// Two score vectors without NaN, on the host and, strided, on the device.
struct score_pair {
  std::vector<double> a, b;
  memloc::vector_view<const double, memloc::device_space> da, db;
};

score_pair placed_pair(placed& p, std::size_t n, std::uint64_t seed) {
  score_pair pair{tied_scores(n, seed, false), tied_scores(n, seed + 1, false), {}, {}};
  pair.da = p.strided(pair.a);
  pair.db = p.strided(pair.b);
  return pair;
}

const memloc::host_exec host{};

}  // namespace

TEST_CASE("cuda analysis: rankings, top-k sets and overlaps equal the host's") {
  const auto x = cuda_backend::exec();
  placed p;
  for (const std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{1000}, std::size_t{50000}}) {
    const auto a = tied_scores(n, 11 + n, true), b = tied_scores(n, 29 + n, n > 10);
    const auto da = p.strided(a), db = p.strided(b);
    const auto ha = memloc::make_vector_view(a.data(), static_cast<index_t>(n));
    const auto hb = memloc::make_vector_view(b.data(), static_cast<index_t>(n));
    for (const auto direction : {memloc::rank_direction::top, memloc::rank_direction::least}) {
      INFO("n = ", n, ", direction ", static_cast<int>(direction));
      const auto device_rank = memloc::rank_scores(x, da, direction);
      const auto host_rank = memloc::rank_scores(host, ha, direction);
      CHECK(device_rank.indices == host_rank.indices);
      CHECK(device_rank.nan_count == host_rank.nan_count);
      for (const auto k : {memloc::top_count(1), memloc::top_fraction(0.1), memloc::top_fraction(1.0)}) {
        const auto device_top = memloc::top_k_indices(x, da, k, direction);
        const auto host_top = memloc::top_k_indices(host, ha, k, direction);
        CHECK(device_top.indices == host_top.indices);
        CHECK(device_top.nan_count == host_top.nan_count);
        const auto device_overlap = memloc::top_k_overlap(x, da, db, k, direction);
        const auto host_overlap = memloc::top_k_overlap(host, ha, hb, k, direction);
        CHECK(device_overlap.k == host_overlap.k);
        CHECK(device_overlap.count == host_overlap.count);
      }
      const std::vector<memloc::named_scores<const double, memloc::device_space>> device_points{
          {"a", da}, {"b", db}, {"a again", da}};
      const std::vector<memloc::named_scores<const double, memloc::host_space>> host_points{
          {"a", ha}, {"b", hb}, {"a again", ha}};
      const auto device_matrix = memloc::top_k_overlap_matrix(x, device_points, memloc::top_fraction(0.5), direction);
      const auto host_matrix = memloc::top_k_overlap_matrix(host, host_points, memloc::top_fraction(0.5), direction);
      CHECK(device_matrix.counts == host_matrix.counts);
      CHECK(device_matrix.names == host_matrix.names);
    }
  }
  // float scores rank like the doubles they convert to.
  const auto a = tied_scores(5000, 3, true);
  const auto af = as<float>(a);
  auto device_f = p.mem.place(const_cast<std::vector<float>&>(af), memloc::make_vector_view(af.data(), 5000));
  CHECK(memloc::rank_scores(x, device_f).indices ==
        memloc::rank_scores(host, memloc::make_vector_view(af.data(), 5000)).indices);
}

TEST_CASE("cuda analysis: Kendall, t-tests, masks, layer selection and unit links equal the host's") {
  const auto x = cuda_backend::exec();
  placed p;
  const std::size_t n = 3000;
  const auto [a, b, da, db] = placed_pair(p, n, 5);
  const auto ha = memloc::make_vector_view(a.data(), static_cast<index_t>(n));
  const auto hb = memloc::make_vector_view(b.data(), static_cast<index_t>(n));

  const auto dk = memloc::kendall_tau_b(x, da, db), hk = memloc::kendall_tau_b(host, ha, hb);
  CHECK(same_bits(dk.tau, hk.tau));
  CHECK(same_bits(dk.p_value, hk.p_value));
  const auto du = memloc::kendall_tau_b_top_k_union(x, da, db, memloc::top_fraction(0.1));
  const auto hu = memloc::kendall_tau_b_top_k_union(host, ha, hb, memloc::top_fraction(0.1));
  CHECK(same_bits(du.tau, hu.tau));
  CHECK(du.n == hu.n);

  const auto ds = memloc::summarize(x, da), hs = memloc::summarize(host, ha);
  CHECK(ds.n == hs.n);
  CHECK(same_bits(ds.mean, hs.mean));
  CHECK(same_bits(ds.m2, hs.m2));
  for (const auto kind : {memloc::t_test_kind::student, memloc::t_test_kind::welch}) {
    const auto dt = memloc::t_test(x, da, db, {kind}), ht = memloc::t_test(host, ha, hb, {kind});
    CHECK(same_bits(dt.statistic, ht.statistic));
    CHECK(same_bits(dt.p_value, ht.p_value));
  }

  const auto l0 = tied_scores(64, 8, true), l1 = tied_scores(256, 9, false);
  const std::vector<memloc::named_scores<const double, memloc::device_space>> device_layers{{"conv1", p.strided(l0)},
                                                                                          {"conv2", p.strided(l1)}};
  const std::vector<memloc::named_scores<const double, memloc::host_space>> host_layers{
      {"conv1", memloc::make_vector_view(l0.data(), 64)}, {"conv2", memloc::make_vector_view(l1.data(), 256)}};
  for (const auto selection : {memloc::prune_selection::top, memloc::prune_selection::low, memloc::prune_selection::random}) {
    for (const auto scope : {memloc::prune_scope::per_layer, memloc::prune_scope::total}) {
      const memloc::pruning_options options{selection, scope, memloc::top_fraction(0.25), 17};
      const auto dm = memloc::pruning_masks(x, device_layers, options), hm = memloc::pruning_masks(host, host_layers, options);
      CHECK(dm.units == hm.units);
      CHECK(dm.pruned == hm.pruned);
      CHECK(dm.nan_units == hm.nan_units);
    }
  }

  const std::vector<std::string> names{"p0", "p1", "p2", "p3", "p4"};
  const std::vector<double> delta{std::numeric_limits<double>::quiet_NaN(), 0.1, 0.3, 0.1, -0.2};
  const auto dsel = memloc::select_layers(x, names, p.strided(delta), 2);
  const auto hsel = memloc::select_layers(host, names, memloc::make_vector_view(delta.data(), 5), 2);
  CHECK(dsel.points == hsel.points);
  CHECK(dsel.nan_count == hsel.nan_count);

  std::vector<std::int64_t> argmax(256);
  for (std::size_t u = 0; u < argmax.size(); ++u) argmax[u] = static_cast<std::int64_t>((u * 37) % n);
  const auto d_argmax = p.mem.place(argmax, memloc::make_vector_view(argmax.data(), 256));
  const auto dl = memloc::units_to_samples(x, p.strided(l1), d_argmax, da, memloc::top_fraction(0.1));
  const auto hl = memloc::units_to_samples(host, memloc::make_vector_view(l1.data(), 256),
                                           memloc::make_vector_view(argmax.data(), 256), ha, memloc::top_fraction(0.1));
  CHECK(dl.top_units == hl.top_units);
  CHECK(dl.top_unit_count == hl.top_unit_count);
  CHECK(dl.argmax_score == hl.argmax_score);
}

TEST_CASE("cuda analysis: bad inputs get the host's errors") {
  const auto x = cuda_backend::exec();
  placed p;
  const auto a = tied_scores(10, 1, false);
  const auto da = p.strided(a);
  const auto short_b = p.strided(tied_scores(9, 2, false));
  CHECK_MEMLOC_ERROR(memloc::top_k_indices(x, da, memloc::top_count(11)), "k.count must be in [1, 10], got 11");
  CHECK_MEMLOC_ERROR(memloc::top_k_indices(x, da, memloc::top_fraction(1.5)), "k.fraction must be in (0, 1], got 1.5");
  CHECK_MEMLOC_ERROR(memloc::top_k_overlap(x, da, short_b, memloc::top_count(2)), "b extent(0)");
  CHECK_MEMLOC_ERROR(memloc::kendall_tau_b(x, da, short_b), "y extent(0)");
  const memloc::vector_view<const double, memloc::device_space> one(da.data_handle(), {1}, {2});
  CHECK_MEMLOC_ERROR(memloc::kendall_tau_b(x, one, one), "x extent(0) (items) must be >= 2, got 1");
  CHECK_MEMLOC_ERROR(memloc::t_test(x, one, da), "a extent(0) (items) must be >= 2, got 1");
  CHECK_MEMLOC_ERROR(memloc::rank_scores(x, memloc::vector_view<const double, memloc::device_space>(nullptr, {4})),
                     "scores data_handle() must be non-null");
}

TEST_CASE("cuda analysis: broadcast (stride 0) and single-item views with any stride") {
  const auto x = cuda_backend::exec();
  placed p;
  const auto a = tied_scores(8, 4, false);
  const auto da = p.strided(a);
  // Every item is a[0]: a constant input, whose τ-b is NaN on both backends.
  const memloc::vector_view<const double, memloc::device_space> broadcast(da.data_handle(), {8}, {0});
  const std::vector<double> repeated(8, a[0]);
  const auto hr = memloc::make_vector_view(repeated.data(), 8);
  const auto db = memloc::summarize(x, broadcast), hb = memloc::summarize(host, hr);
  CHECK(db.n == 8);
  CHECK(same_bits(db.mean, hb.mean));
  CHECK(std::isnan(memloc::kendall_tau_b(x, broadcast, da).tau));
  const memloc::vector_view<const double, memloc::device_space> single(da.data_handle(), {1}, {index_t{1} << 40});
  CHECK(memloc::summarize(x, single).mean == a[0]);
}

// Issue 16: a device analysis checks each argument once and copies each input to the host
// once (fp64 scores straight from the device, float widened there), then runs the host's
// computation, not the host's public function, which would check and copy again.
TEST_CASE("cuda analysis: each input is checked once and copied to the host once") {
  const auto x = cuda_backend::exec();
  placed p;
  const std::size_t n = 500;
  const auto v = placed_pair(p, n, 15);
  std::vector<float> af = as<float>(v.a);
  const auto daf = p.mem.place(af, memloc::make_vector_view(static_cast<const float*>(af.data()), static_cast<index_t>(n)));
  using memloc::detail::test_hooks::host_copies;
  using memloc::detail::test_hooks::score_checks;
  const auto once = [](long score_vectors, long copies, const auto& call, const char* what) {
    const long checks_before = score_checks.load(), copies_before = host_copies.load();
    call();
    CHECK_MESSAGE(score_checks.load() - checks_before == score_vectors, what);
    CHECK_MESSAGE(host_copies.load() - copies_before == copies, what);
  };
  const auto top = memloc::top_fraction(0.1);
  once(2, 2, [&] { memloc::kendall_tau_b(x, v.da, v.db); }, "kendall_tau_b");
  once(2, 2, [&] { memloc::kendall_tau_b_top_k_union(x, v.da, v.db, top); }, "kendall_tau_b_top_k_union");
  once(1, 1, [&] { memloc::summarize(x, v.da); }, "summarize");
  once(2, 2, [&] { memloc::t_test(x, v.da, v.db); }, "t_test");
  const std::vector<memloc::named_scores<const double, memloc::device_space>> layers{{"conv1", v.da}, {"conv2", v.db}};
  once(2, 2, [&] { memloc::pruning_masks(x, layers, {memloc::prune_selection::top}); }, "pruning_masks");
  const std::vector<std::string> names(n, "p");
  once(1, 1, [&] { memloc::select_layers(x, names, v.da, 3); }, "select_layers");
  std::vector<std::int64_t> argmax(n);
  for (std::size_t u = 0; u < n; ++u) argmax[u] = static_cast<std::int64_t>((u * 7) % n);
  const auto d_argmax = p.mem.place(argmax, memloc::make_vector_view(static_cast<const std::int64_t*>(argmax.data()),
                                                                     static_cast<index_t>(n)));
  once(2, 3, [&] { memloc::units_to_samples(x, v.da, d_argmax, v.db, top); }, "units_to_samples");

  // float scores come back widened, in one copy, and equal the host's.
  memloc::sample_summary s{};
  once(1, 1, [&] { s = memloc::summarize(x, daf); }, "summarize (float)");
  const auto hs = memloc::summarize(host, memloc::make_vector_view(af.data(), static_cast<index_t>(n)));
  CHECK(same_bits(s.mean, hs.mean));
  CHECK(same_bits(s.m2, hs.m2));
  const auto dk = memloc::kendall_tau_b(x, daf, v.db);
  const auto hk = memloc::kendall_tau_b(host, memloc::make_vector_view(af.data(), static_cast<index_t>(n)),
                                        memloc::make_vector_view(v.b.data(), static_cast<index_t>(n)));
  CHECK(same_bits(dk.tau, hk.tau));

  // The argmax checks, split around the copy, say what the host says.
  std::vector<std::int64_t> bad(n, 0);
  bad[9] = static_cast<std::int64_t>(n);
  const auto d_bad = p.mem.place(bad, memloc::make_vector_view(static_cast<const std::int64_t*>(bad.data()), static_cast<index_t>(n)));
  const auto h_bad = memloc::make_vector_view(bad.data(), static_cast<index_t>(n));
  const auto ha = memloc::make_vector_view(v.a.data(), static_cast<index_t>(n));
  const char* message = "argmax(9) must be in [0, 500), got 500";
  CHECK_MEMLOC_ERROR(memloc::units_to_samples(host, ha, h_bad, ha, top), message);
  CHECK_MEMLOC_ERROR(memloc::units_to_samples(x, v.da, d_bad, v.db, top), message);
  const memloc::vector_view<const std::int64_t, memloc::device_space> short_argmax(d_argmax.data_handle(), {3});
  CHECK_MEMLOC_ERROR(memloc::units_to_samples(x, v.da, short_argmax, v.db, top),
                     "argmax extent(0) (one sample id per unit) must be 500, got 3");
}

}  // namespace testing
