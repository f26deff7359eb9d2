#pragma once

#include <stdexcept>

namespace memloc::cli {

// A mistake in how the command was called (a bad option value, a file of the wrong shape):
// reported with the option it concerns, exit status 2.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace memloc::cli
