#pragma once

// memloc::memloc: every metric on the host backend (OpenMP).

#include "alignment.hpp"
#include "analysis.hpp"
#include "classmem.hpp"
#include "core.hpp"
#include "layermem.hpp"
#include "sslmem.hpp"
#include "unitmem.hpp"
