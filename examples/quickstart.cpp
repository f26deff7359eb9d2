// memloc quickstart: UnitMem and LayerMem of two encoders, folded batch by batch.
//
// The encoders here are synthetic, so that the example runs anywhere in a second: g is a
// random three-layer ReLU network, and f is the same network except that, for the
// "candidate" samples it was supposedly trained on, it pulls the activations of every
// augmented view towards those of the clean sample, more strongly in deeper layers. That
// is the signature SSLMem looks for (f aligns the views of x better than g), so LayerMem
// should grow with depth and be largest for the candidates. Swap in real activations from
// forward hooks and nothing else changes.

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <memloc/memloc.hpp>

namespace {

constexpr memloc::index_t samples = 512, views = 4, inputs = 24, batch = 64;
const std::vector<memloc::index_t> widths{48, 48, 32};
const std::vector<std::string> names{"fc1", "fc2", "fc3"};
const std::vector<float> pull{0.15f, 0.35f, 0.6f};  // how strongly f aligns a candidate's views, per layer

struct network {
  std::vector<std::vector<float>> weights;  // weights[l]: widths[l] x (previous width), row-major
};

network random_network(std::mt19937_64& gen) {
  network net;
  memloc::index_t previous = inputs;
  for (const auto width : widths) {
    std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(previous)));
    std::vector<float> w(static_cast<std::size_t>(width * previous));
    for (auto& x : w) x = normal(gen);
    net.weights.push_back(std::move(w));
    previous = width;
  }
  return net;
}

// Forward pass of one input; out[l] receives layer l's post-ReLU activations.
void forward(const network& net, const std::vector<float>& input, std::vector<std::vector<float>>& out) {
  const std::vector<float>* previous = &input;
  out.resize(widths.size());
  for (std::size_t l = 0; l < widths.size(); ++l) {
    const auto width = static_cast<std::size_t>(widths[l]);
    const std::size_t fan_in = previous->size();
    out[l].assign(width, 0.0f);
    for (std::size_t u = 0; u < width; ++u) {
      float sum = 0.0f;
      for (std::size_t k = 0; k < fan_in; ++k) sum += net.weights[l][u * fan_in + k] * (*previous)[k];
      out[l][u] = sum > 0.0f ? sum : 0.0f;
    }
    previous = &out[l];
  }
}

}  // namespace

int main() {
  std::mt19937_64 gen(2024);
  const network net = random_network(gen);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const memloc::host_exec exec{};

  // One accumulator per measurement point and metric; their state is fixed-size.
  std::vector<memloc::unitmem_accumulator<memloc::host_space>> unit_accs;
  std::vector<memloc::alignment_accumulator<memloc::host_space>> align_accs;
  for (const auto width : widths) {
    unit_accs.emplace_back(exec, memloc::unitmem_shape{samples, width, views, 1});
    align_accs.emplace_back(exec, memloc::alignment_shape{samples, views, width});
  }

  std::vector<std::vector<float>> f_batch(widths.size()), g_batch(widths.size());
  std::vector<std::vector<float>> clean, augmented;
  std::vector<std::int64_t> ids(batch);
  for (memloc::index_t first = 0; first < samples; first += batch) {
    for (std::size_t l = 0; l < widths.size(); ++l) {
      f_batch[l].assign(static_cast<std::size_t>(batch * views * widths[l]), 0.0f);
      g_batch[l].assign(f_batch[l].size(), 0.0f);
    }
    for (memloc::index_t b = 0; b < batch; ++b) {
      const memloc::index_t id = first + b;
      ids[static_cast<std::size_t>(b)] = id;
      const bool candidate = id % 2 == 0;
      std::vector<float> x(inputs);
      for (auto& v : x) v = normal(gen);
      forward(net, x, clean);
      for (memloc::index_t v = 0; v < views; ++v) {
        std::vector<float> view = x;  // the "augmentation": additive noise
        for (auto& e : view) e += 0.5f * normal(gen);
        forward(net, view, augmented);
        for (std::size_t l = 0; l < widths.size(); ++l) {
          const auto width = widths[l];
          const float alpha = candidate ? pull[l] : 0.0f;
          for (memloc::index_t u = 0; u < width; ++u) {
            const auto at = static_cast<std::size_t>((b * views + v) * width + u);
            const float g = augmented[l][static_cast<std::size_t>(u)];
            g_batch[l][at] = g;
            f_batch[l][at] = (1.0f - alpha) * g + alpha * clean[l][static_cast<std::size_t>(u)];
          }
        }
      }
    }
    // Hand memloc the raw batch buffers: [batch, views, units] with one position.
    const auto id_view = memloc::make_vector_view(ids.data(), batch);
    for (std::size_t l = 0; l < widths.size(); ++l) {
      unit_accs[l].update(exec, memloc::dense_sample_major(f_batch[l].data(), batch, views, widths[l]), id_view);
      align_accs[l].update(exec, memloc::representations_sample_major(f_batch[l].data(), batch, views, widths[l]),
                           memloc::representations_sample_major(g_batch[l].data(), batch, views, widths[l]), id_view);
    }
  }

  std::printf("UnitMem of encoder f per unit (%lld samples, %lld views each)\n", static_cast<long long>(samples),
              static_cast<long long>(views));
  for (std::size_t l = 0; l < widths.size(); ++l) {
    std::vector<double> unitmem(static_cast<std::size_t>(widths[l]));
    std::vector<std::int64_t> argmax(unitmem.size());
    const auto report = unit_accs[l].finalize(
        exec, {memloc::make_vector_view(unitmem.data(), widths[l]), {}, memloc::make_vector_view(argmax.data(), widths[l])});
    double mean = 0.0;
    for (const double x : unitmem) mean += x;
    std::printf("%s: mean %.3f over %lld units (NaN units: %lld)\n", names[l].c_str(), mean / static_cast<double>(unitmem.size()),
                static_cast<long long>(report.units), static_cast<long long>(report.nan_units));
    for (std::size_t u = 0; u < unitmem.size(); ++u) {
      std::printf("  u%-3zu %.3f (x%-4lld)%s", u, unitmem[u], static_cast<long long>(argmax[u]), u % 4 == 3 ? "\n" : "");
    }
    if (unitmem.size() % 4 != 0) std::printf("\n");
  }

  // Per-sample alignments per point, then LayerMem over all, the top-64 and the least-64.
  std::vector<std::vector<double>> ssl_f(widths.size(), std::vector<double>(samples)), ssl_g = ssl_f;
  std::vector<memloc::measurement_point<>> points;
  for (std::size_t l = 0; l < widths.size(); ++l) {
    align_accs[l].finalize(exec, memloc::make_vector_view(ssl_f[l].data(), samples),
                           memloc::make_vector_view(ssl_g[l].data(), samples));
    points.push_back({names[l], memloc::make_vector_view<memloc::host_space, const double>(ssl_f[l].data(), samples),
                      memloc::make_vector_view<memloc::host_space, const double>(ssl_g[l].data(), samples)});
  }
  const auto count = static_cast<memloc::index_t>(points.size());
  std::printf("\nLayerMem of f against g (l2 distance, all pairs of views)\n");
  std::printf("%-6s %9s %9s %9s %9s %9s\n", "point", "LM all", "dLM all", "LM top64", "dLM top64", "LM least64");
  std::vector<std::vector<double>> columns;
  for (const auto kind : {memloc::subset_kind::all, memloc::subset_kind::top, memloc::subset_kind::least}) {
    std::vector<double> lm(points.size()), delta(points.size());
    memloc::layermem(exec, points, memloc::make_vector_view(lm.data(), count), memloc::make_vector_view(delta.data(), count),
                     memloc::vector_view<std::int64_t>{}, {{}, {kind, 64}});
    columns.push_back(lm);
    columns.push_back(delta);
  }
  // The first point has no predecessor, so its ΔLayerMem is NaN; print it as "-".
  auto cell = [](double x) { return std::isnan(x) ? std::string("-") : std::to_string(x).substr(0, 7); };
  for (std::size_t p = 0; p < points.size(); ++p) {
    std::printf("%-6s %9s %9s %9s %9s %9s\n", points[p].name.c_str(), cell(columns[0][p]).c_str(), cell(columns[1][p]).c_str(),
                cell(columns[2][p]).c_str(), cell(columns[3][p]).c_str(), cell(columns[4][p]).c_str());
  }
  return 0;
}
