// libFuzzer target: any byte string must either parse as a .npy image or raise
// format_error, and whatever parses must read back in full without touching memory
// outside the image. Run by scripts/fuzz.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "npy.hpp"

namespace {

void read_everything(const memloc::npy::npy_file& f) {
  const memloc::index_t row_size = f.row_size();
  if (row_size == 0) return;
  // Several chunks per file, so chunk boundaries and the Fortran gather are exercised.
  const memloc::index_t chunk = std::max<memloc::index_t>(1, 1024 / row_size);
  std::vector<double> buf(static_cast<std::size_t>(chunk * row_size));
  for (memloc::index_t first = 0; first < f.rows(); first += chunk) {
    f.read_rows(first, std::min(chunk, f.rows() - first), buf.data());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (const bool bf16 : {false, true}) {
    memloc::npy::open_options options;
    options.uint16_as_bfloat16 = bf16;
    try {
      read_everything(memloc::npy::npy_file::from_memory(data, size, "fuzz.npy", options));
    } catch (const memloc::npy::format_error&) {
      // Rejecting the input is the expected outcome for almost every mutation.
    }
  }
  return 0;
}
