#pragma once

// memloc plugged into the inference pass: observers fold each measurement point's
// activation buffer into memloc's accumulators, batch by batch, reading the tensors'
// memory in place.

#include <cstdint>
#include <string>
#include <vector>

#include <memloc/memloc.hpp>

#include "augment.hpp"
#include "data.hpp"
#include "model.hpp"

namespace ssl_demo {

// Per conv layer, one value per unit.
struct unit_measurement {
  std::vector<std::string> layers;
  std::vector<std::vector<double>> unitmem;
  std::vector<std::vector<std::int64_t>> argmax;  // index into the measured samples
  std::vector<std::vector<double>> classmem;      // empty unless labels were used
  std::vector<memloc::unitmem_report> unit_reports;
  std::vector<memloc::classmem_report> class_reports;
  // Everything the pass kept across batches: memloc's accumulator states (f's and, with
  // alignments, g's), nothing per sample outside them.
  std::int64_t memloc_state_bytes = 0;
};

// Per measurement point, one alignment per sample (l2 over all pairs of views).
struct alignment_measurement {
  std::vector<std::vector<double>> ssl_f, ssl_g;
};

struct measurement_setup {
  std::int64_t views = 10;       // augmentations per sample (LOC App. B: 10 for UnitMem)
  std::int64_t batch_samples = 32;
  bool with_classes = false;     // also ClassMem, with the class labels
  std::int64_t classes = 10;
  augmentation_policy policy;
};

// UnitMem (and ClassMem) of every conv layer of f over `samples`.
// Views are drawn from `generator`, which the caller keeps apart from the training streams.
unit_measurement measure_units(encoder& f, const image_set& samples, const measurement_setup& setup, at::Generator& generator);

// The same, plus the alignments of f and g at every point on the same views: the inputs of
// SSLMem, LayerMem and ΔLayerMem.
unit_measurement measure_units_and_alignment(encoder& f, encoder& g, const image_set& samples, const measurement_setup& setup,
                                             at::Generator& generator, alignment_measurement& alignment);

}  // namespace ssl_demo
