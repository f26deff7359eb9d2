// A downstream program built against an installed memloc (find_package(memloc)): it must
// find the headers and OpenMP through the exported memloc::memloc target, and
// compute a value the spec gives by hand.
#include <memloc/memloc.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  // One unit, four samples with μ = [5, 1, 1, 4]: UnitMem = (5 - 2) / (5 + 2) = 3/7.
  std::vector<float> activations{5, 1, 1, 4};
  double unitmem = 0.0;
  const auto report = memloc::unitmem(memloc::host_exec{}, memloc::dense_sample_major(activations.data(), 4, 1, 1),
                                      {memloc::make_vector_view(&unitmem, 1)});
  std::printf("memloc %s: UnitMem %.6f over %lld samples\n", memloc::version_string(), unitmem,
              static_cast<long long>(report.samples));
  return std::fabs(unitmem - 3.0 / 7.0) < 1e-12 ? 0 : 1;
}
