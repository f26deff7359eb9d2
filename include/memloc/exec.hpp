#pragma once

namespace memloc {

// Selects the host backend (Eigen + OpenMP). Work runs on the calling thread and an
// OpenMP team of `threads` threads; 0 leaves the count to OpenMP (OMP_NUM_THREADS).
struct host_exec {
  int threads = 0;
};

}  // namespace memloc
