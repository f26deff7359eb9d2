#pragma once

// Kept in step with project(VERSION) in CMakeLists.txt; a test compares the two.
#define MEMLOC_VERSION_MAJOR 0
#define MEMLOC_VERSION_MINOR 1
#define MEMLOC_VERSION_PATCH 0

namespace memloc {

inline constexpr const char* version_string() noexcept { return "0.1.0"; }

}  // namespace memloc
