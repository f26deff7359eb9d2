#pragma once

// For tests that plant a misuse: what memloc_emulation::fail() reports while an action runs,
// caught instead of aborting the process (the default), with the previous handler restored.

#include <stdexcept>
#include <string>

#include "memloc_emulation/interface.hpp"

namespace memloc_emulation::testing {

struct reported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void throw_report(const std::string& report) { throw reported(report); }

// The report `action` provokes, or "" when no check fires. Work the action leaves queued is
// not run here: an action that needs its kernels to run synchronizes itself.
template <class Action>
std::string report_of(Action action) {
  const failure_handler previous = set_failure_handler(&throw_report);
  std::string report;
  try {
    action();
  } catch (const reported& r) {
    report = r.what();
  }
  set_failure_handler(previous);
  return report;
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace memloc_emulation::testing
