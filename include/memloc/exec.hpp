#pragma once

namespace memloc {

// Selects the host backend (OpenMP). Work runs on the calling thread and an
// OpenMP team of `threads` threads; 0 leaves the count to OpenMP (OMP_NUM_THREADS), and a
// negative count is rejected. Results do not depend on the count.
struct host_exec {
  int threads = 0;
};

}  // namespace memloc
