#pragma once

// memloc::cuda: every metric on device buffers, chosen by a cuda_exec argument. Include it
// from a translation unit compiled by nvcc; memloc.hpp adds the host backend beside it.

#include "core.hpp"
#include "cuda_exec.cuh"
#include "unitmem.cuh"
#include "classmem.cuh"
#include "alignment.cuh"
#include "layermem.cuh"
#include "sslmem.cuh"
#include "analysis.cuh"
