#pragma once

// Stand-in for the execution half's device built-ins while the runtime half is developed
// without them (MEMLOC_EMULATION_STUB=execution): the runtime and its self-tests need none
// of them, only the seam.

#include "memloc_emulation/interface.hpp"
