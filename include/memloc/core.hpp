#pragma once

// memloc::core: views, element types, options and errors; no third-party dependency, and
// usable from both host compilers and nvcc.

#include "error.hpp"
#include "exec.hpp"
#include "layouts.hpp"
#include "options.hpp"
#include "spellings.hpp"
#include "state.hpp"
#include "types.hpp"
#include "version.hpp"
#include "view.hpp"
