// memloc::mpi::all_reduce under mpirun: every rank folds a random shard of the same data,
// and the merged result must match the single-process result that each rank also folds.
// A plain main rather than doctest: a failed check on one rank must not stop that rank
// before the collectives the other ranks are waiting in.

#include <memloc/mpi.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

int rank = 0, ranks = 1, failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "rank %d: FAILED: %s\n", rank, what.c_str());
  }
}

bool near(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::abs(a - b) <= 1e-12 * std::max(std::abs(a), std::abs(b));
}

template <class T>
void check_exact(const std::vector<T>& got, const std::vector<T>& want, const std::string& what) {
  check(got == want, what + " must equal the single-process result exactly");
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  bool ok = got.size() == want.size();
  for (std::size_t i = 0; ok && i < got.size(); ++i) ok = near(got[i], want[i]);
  check(ok, what + " must be within 1e-12 relative of the single-process result");
}

// The message of the memloc::logic_error that f throws, or "" when it throws none.
template <class F>
std::string logic_error_of(F f) {
  try {
    f();
  } catch (const memloc::logic_error& e) {
    return e.what();
  }
  return "";
}

constexpr memloc::index_t samples = 97, units = 6, views = 3, height = 2, width = 2, classes = 4, features = 5;
constexpr memloc::index_t positions = height * width, batch = 8;

struct data_set {
  std::vector<float> acts;  // [samples, views, units, height, width]
  std::vector<float> reps;  // [samples, views, features]
  std::vector<std::int64_t> labels;
  std::vector<int> owner;   // the rank that folds each sample
};

// Same seed on every rank, so every rank holds the same data and the same split.
data_set make_data(unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> value(0.0f, 1.0f);
  std::uniform_int_distribution<std::int64_t> label(0, classes - 1);
  std::uniform_int_distribution<int> who(0, ranks - 1);
  data_set d;
  d.acts.resize(static_cast<std::size_t>(samples * views * units * positions));
  for (auto& x : d.acts) x = value(gen);
  d.reps.resize(static_cast<std::size_t>(samples * views * features));
  for (auto& x : d.reps) x = value(gen);
  for (memloc::index_t i = 0; i < samples; ++i) d.labels.push_back(label(gen));
  for (memloc::index_t i = 0; i < samples; ++i) d.owner.push_back(who(gen));
  return d;
}

struct accumulators {
  memloc::unitmem_accumulator<memloc::host_space> mean, median;
  memloc::classmem_accumulator<memloc::host_space> cls;
  memloc::alignment_accumulator<memloc::host_space> align;

  explicit accumulators(const memloc::host_exec& exec)
      : mean(exec, {samples, units, views, positions}, {memloc::rest_reduction::mean, memloc::activation_transform::none,
                                                        memloc::unitmem_storage::per_unit}),
        median(exec, {samples, units, views, positions}, {memloc::rest_reduction::median,
                                                          memloc::activation_transform::none,
                                                          memloc::unitmem_storage::per_sample}),
        cls(exec, {samples, units, views, positions, classes}),
        align(exec, {samples, views, features}) {}
};

// Folds the samples `take` selects, in batches of copied rows so that each batch is contiguous.
template <class Take>
void fold(const memloc::host_exec& exec, accumulators& a, const data_set& d, Take take) {
  const auto act_row = static_cast<std::size_t>(views * units * positions);
  const auto rep_row = static_cast<std::size_t>(views * features);
  std::vector<std::int64_t> ids, labels;
  std::vector<float> acts, reps;
  auto flush = [&] {
    if (ids.empty()) return;
    const auto n = static_cast<memloc::index_t>(ids.size());
    const auto av = memloc::nchw_sample_major(acts.data(), n, views, units, height, width);
    const auto idv = memloc::make_vector_view(ids.data(), n);
    a.mean.update(exec, av, idv);
    a.median.update(exec, av, idv);
    a.cls.update(exec, av, idv, memloc::make_vector_view(labels.data(), n));
    const auto rv = memloc::representations_sample_major(reps.data(), n, views, features);
    a.align.update(exec, rv, rv, idv);
    ids.clear(), labels.clear(), acts.clear(), reps.clear();
  };
  for (memloc::index_t i = 0; i < samples; ++i) {
    if (!take(i)) continue;
    const auto s = static_cast<std::size_t>(i);
    ids.push_back(i);
    labels.push_back(d.labels[s]);
    acts.insert(acts.end(), d.acts.begin() + static_cast<std::ptrdiff_t>(s * act_row),
                d.acts.begin() + static_cast<std::ptrdiff_t>((s + 1) * act_row));
    reps.insert(reps.end(), d.reps.begin() + static_cast<std::ptrdiff_t>(s * rep_row),
                d.reps.begin() + static_cast<std::ptrdiff_t>((s + 1) * rep_row));
    if (static_cast<memloc::index_t>(ids.size()) == batch) flush();
  }
  flush();
}

struct results {
  std::vector<double> mean_um, mean_max, mean_rest, median_um, median_max, median_rest, cls_cm, cls_max, cls_rest, ssl_f,
      ssl_g;
  std::vector<std::int64_t> mean_arg, median_arg, cls_arg;
  std::vector<memloc::index_t> counts;  // report fields, which must match exactly
};

results finalize(const memloc::host_exec& exec, const accumulators& a) {
  results r;
  auto unit = [&](const memloc::unitmem_accumulator<memloc::host_space>& acc, std::vector<double>& um,
                  std::vector<double>& mx, std::vector<std::int64_t>& arg, std::vector<double>& rest) {
    um.resize(units), mx.resize(units), arg.resize(units), rest.resize(units);
    const auto rep = acc.finalize(exec, memloc::unitmem_outputs<>{memloc::make_vector_view(um.data(), units),
                                                                  memloc::make_vector_view(mx.data(), units),
                                                                  memloc::make_vector_view(arg.data(), units),
                                                                  memloc::make_vector_view(rest.data(), units)});
    r.counts.insert(r.counts.end(), {rep.samples, rep.units, rep.nan_units, rep.negative_denominator_units});
  };
  unit(a.mean, r.mean_um, r.mean_max, r.mean_arg, r.mean_rest);
  unit(a.median, r.median_um, r.median_max, r.median_arg, r.median_rest);
  r.cls_cm.resize(units), r.cls_max.resize(units), r.cls_arg.resize(units), r.cls_rest.resize(units);
  const auto rep = a.cls.finalize(exec, memloc::classmem_outputs<>{memloc::make_vector_view(r.cls_cm.data(), units),
                                                                   memloc::make_vector_view(r.cls_max.data(), units),
                                                                   memloc::make_vector_view(r.cls_arg.data(), units),
                                                                   memloc::make_vector_view(r.cls_rest.data(), units)});
  r.counts.insert(r.counts.end(), {rep.samples, rep.units, rep.classes_with_samples, rep.nan_units});
  r.ssl_f.resize(samples), r.ssl_g.resize(samples);
  a.align.finalize(exec, memloc::make_vector_view(r.ssl_f.data(), samples), memloc::make_vector_view(r.ssl_g.data(), samples));
  return r;
}

void test_matches_single_process(std::size_t max_chunk) {
  const memloc::host_exec exec{1};
  const data_set d = make_data(20261128);
  accumulators shard(exec), whole(exec);
  fold(exec, shard, d, [&](memloc::index_t i) { return d.owner[static_cast<std::size_t>(i)] == rank; });
  fold(exec, whole, d, [](memloc::index_t) { return true; });
  memloc::mpi::mpi_detail::all_reduce(shard.mean, MPI_COMM_WORLD, max_chunk);
  memloc::mpi::mpi_detail::all_reduce(shard.median, MPI_COMM_WORLD, max_chunk);
  memloc::mpi::mpi_detail::all_reduce(shard.cls, MPI_COMM_WORLD, max_chunk);
  memloc::mpi::mpi_detail::all_reduce(shard.align, MPI_COMM_WORLD, max_chunk);
  const results got = finalize(exec, shard), want = finalize(exec, whole);
  const std::string at = " (max_chunk " + std::to_string(max_chunk) + ")";
  check_exact(got.counts, want.counts, "report counts" + at);
  check_exact(got.mean_arg, want.mean_arg, "mean argmax" + at);
  check_exact(got.mean_max, want.mean_max, "mean mu_max" + at);
  check_close(got.mean_um, want.mean_um, "mean unitmem" + at);
  check_close(got.mean_rest, want.mean_rest, "mean mu_rest" + at);
  check_exact(got.median_arg, want.median_arg, "median argmax" + at);
  check_exact(got.median_max, want.median_max, "median mu_max" + at);
  check_close(got.median_um, want.median_um, "median unitmem" + at);
  check_close(got.median_rest, want.median_rest, "median mu_rest" + at);
  check_exact(got.cls_arg, want.cls_arg, "classmem max_class" + at);
  check_close(got.cls_max, want.cls_max, "classmem mu_max" + at);
  check_close(got.cls_cm, want.cls_cm, "classmem" + at);
  check_close(got.cls_rest, want.cls_rest, "classmem mu_rest" + at);
  check_exact(got.ssl_f, want.ssl_f, "ssl_f" + at);
  check_exact(got.ssl_g, want.ssl_g, "ssl_g" + at);
}

// Every rank must throw, or the ranks that did not would go on to collectives alone.
void test_incompatible_shapes_throw_everywhere() {
  const memloc::host_exec exec{1};
  memloc::unitmem_accumulator<memloc::host_space> acc(exec, {samples, rank == 0 ? 3 : 4, views, positions});
  const std::string message = logic_error_of([&] { memloc::mpi::all_reduce(acc, MPI_COMM_WORLD); });
  if (ranks == 1) {
    check(message.empty(), "one rank has nothing to disagree with");
  } else {
    check(message.find("shape().units") != std::string::npos, "incompatible units must name shape().units, got '" + message + "'");
  }

  // A different kind of accumulator on rank 0 is caught before the buffers are compared.
  memloc::alignment_accumulator<memloc::host_space> align(exec, {samples, views, features});
  const std::string kind_message = logic_error_of([&] {
    if (rank == 0) {
      memloc::mpi::all_reduce(align, MPI_COMM_WORLD);
    } else {
      memloc::mpi::all_reduce(acc, MPI_COMM_WORLD);
    }
  });
  if (ranks > 1) {
    check(kind_message.find("accumulator kind") != std::string::npos,
          "a different accumulator kind must be named, got '" + kind_message + "'");
  }
}

void test_sample_on_two_ranks_is_reported() {
  if (ranks == 1) return;
  const memloc::host_exec exec{1};
  const data_set d = make_data(7);
  accumulators a(exec);
  // Rank r folds samples r and r + 1, so samples 1..ranks-1 are folded twice.
  fold(exec, a, d, [](memloc::index_t i) { return i == rank || i == rank + 1; });
  memloc::mpi::all_reduce(a.mean, MPI_COMM_WORLD);
  memloc::mpi::all_reduce(a.cls, MPI_COMM_WORLD);
  std::vector<double> out(units);
  const std::string unit_message = logic_error_of(
      [&] { a.mean.finalize(exec, memloc::unitmem_outputs<>{memloc::make_vector_view(out.data(), units)}); });
  check(unit_message.find("sample id 1 folded 2 times") != std::string::npos,
        "unitmem finalize must report sample 1 folded twice, got '" + unit_message + "'");
  const std::string class_message = logic_error_of(
      [&] { a.cls.finalize(exec, memloc::classmem_outputs<>{memloc::make_vector_view(out.data(), units)}); });
  check(class_message.find("folded 2 times") != std::string::npos,
        "classmem finalize must report a sample folded twice, got '" + class_message + "'");
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  try {
    test_matches_single_process(static_cast<std::size_t>(INT_MAX));
    test_matches_single_process(7);  // buffers split into many chunks
    test_incompatible_shapes_throw_everywhere();
    test_sample_on_two_ranks_is_reported();
  } catch (const std::exception& e) {
    // Another rank may now wait in a collective forever; abort rather than hang the test.
    std::fprintf(stderr, "rank %d: unexpected exception: %s\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) std::printf("memloc mpi tests on %d ranks: %d failed checks\n", ranks, total);
  MPI_Finalize();
  return total == 0 ? 0 : 1;
}
