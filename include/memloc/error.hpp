#pragma once

#include <stdexcept>
#include <string>

namespace memloc {

// Every exception memloc throws derives from this one, so a caller can catch the library's
// failures without catching unrelated std::runtime_error.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A violated precondition: bad extents, strides, ids, labels, options or incompatible states.
class logic_error : public error {
 public:
  using error::error;
};

// A failure reported by the CUDA runtime; the message names the call.
class cuda_error : public error {
 public:
  using error::error;
};

}  // namespace memloc
