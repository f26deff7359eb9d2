#pragma once

// memloc plugged into the inference pass: observers fold each measurement point's
// activation buffer into memloc's accumulators, batch by batch, reading the tensors'
// memory in place.

#include <cstdint>
#include <string>
#include <vector>

#include <memloc/memloc.hpp>

#include "digits_data.hpp"
#include "model.hpp"

namespace digits_ssl {

// Per conv layer, one value per unit.
struct unit_measurement {
  std::vector<std::string> layers;
  std::vector<std::vector<double>> unitmem;
  std::vector<std::vector<std::int64_t>> argmax;  // index into the measured samples
  std::vector<std::vector<double>> classmem;      // empty unless labels were used
  std::vector<memloc::unitmem_report> unit_reports;
  std::vector<memloc::classmem_report> class_reports;
};

// Per measurement point, one alignment per sample (l2 over all pairs of views).
struct alignment_measurement {
  std::vector<std::vector<double>> ssl_f, ssl_g;
};

struct measurement_setup {
  std::int64_t views = 10;       // augmentations per sample (LOC App. B: 10 for UnitMem)
  std::int64_t batch_samples = 32;
  bool with_classes = false;     // also ClassMem, with the digit labels
};

// UnitMem (and ClassMem) of every conv layer of f over `samples`.
unit_measurement measure_units(encoder& f, const digit_set& samples, const measurement_setup& setup);

// The same, plus the alignments of f and g at every point on the same views: the inputs of
// SSLMem, LayerMem and ΔLayerMem.
unit_measurement measure_units_and_alignment(encoder& f, encoder& g, const digit_set& samples, const measurement_setup& setup,
                                             alignment_measurement& alignment);

}  // namespace digits_ssl
