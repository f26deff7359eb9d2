// Data-parallel UnitMem with MPI: each rank runs inference on its shard of the training
// set, folds the activations into its own accumulator, and one all_reduce merges the
// shards, after which every rank can finalize the metric of the whole set.
//
//   mpirun -np 4 ./memloc_mpi_inference
//
// The "model" is a random ReLU layer so that the example runs anywhere; replace forward()
// with a real model's forward hook and nothing else changes.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <memloc/mpi.hpp>

namespace {

constexpr memloc::index_t samples = 1000, views = 2, inputs = 16, units = 32, batch = 50;

// Deterministic per sample and view, so that no rank needs another rank's inputs.
void forward(const std::vector<float>& weights, memloc::index_t sample, memloc::index_t view, float* out) {
  std::mt19937_64 gen(static_cast<std::uint64_t>(sample * views + view));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(inputs));
  for (auto& v : x) v = normal(gen);
  for (memloc::index_t u = 0; u < units; ++u) {
    float sum = 0.0f;
    for (memloc::index_t k = 0; k < inputs; ++k) sum += weights[static_cast<std::size_t>(u * inputs + k)] * x[static_cast<std::size_t>(k)];
    out[u] = sum > 0.0f ? sum : 0.0f;
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  int status = 0;
  try {
    // Same seed everywhere: every rank holds the same model.
    std::mt19937_64 gen(2024);
    std::normal_distribution<float> normal(0.0f, 0.25f);
    std::vector<float> weights(static_cast<std::size_t>(units * inputs));
    for (auto& w : weights) w = normal(gen);

    const memloc::host_exec exec{};
    memloc::unitmem_accumulator<memloc::host_space> acc(exec, memloc::unitmem_shape{samples, units, views, 1});

    // Rank r takes batches r, r + ranks, ...; sample ids stay global, which is what lets
    // the merged state name the sample behind each unit's maximum.
    std::vector<float> acts(static_cast<std::size_t>(batch * views * units));
    std::vector<std::int64_t> ids(static_cast<std::size_t>(batch));
    for (memloc::index_t first = static_cast<memloc::index_t>(rank) * batch; first < samples;
         first += static_cast<memloc::index_t>(ranks) * batch) {
      const memloc::index_t n = std::min(batch, samples - first);
      for (memloc::index_t b = 0; b < n; ++b) {
        ids[static_cast<std::size_t>(b)] = first + b;
        for (memloc::index_t v = 0; v < views; ++v) forward(weights, first + b, v, &acts[static_cast<std::size_t>((b * views + v) * units)]);
      }
      acc.update(exec, memloc::dense_sample_major(acts.data(), n, views, units), memloc::make_vector_view(ids.data(), n));
    }

    memloc::mpi::all_reduce(acc, MPI_COMM_WORLD);

    std::vector<double> unitmem(static_cast<std::size_t>(units));
    std::vector<std::int64_t> argmax(static_cast<std::size_t>(units));
    const auto report = acc.finalize(exec, memloc::unitmem_outputs<>{memloc::make_vector_view(unitmem.data(), units), {},
                                                                     memloc::make_vector_view(argmax.data(), units)});
    if (rank == 0) {
      std::printf("UnitMem over %lld samples folded on %d ranks (%lld NaN units)\n",
                  static_cast<long long>(report.samples), ranks, static_cast<long long>(report.nan_units));
      for (memloc::index_t u = 0; u < 8; ++u) {
        std::printf("  unit %2lld: UnitMem %.4f, most selective for sample %lld\n", static_cast<long long>(u),
                    unitmem[static_cast<std::size_t>(u)], static_cast<long long>(argmax[static_cast<std::size_t>(u)]));
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
    status = 1;
  }
  MPI_Finalize();
  return status;
}
