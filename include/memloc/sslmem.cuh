#pragma once

// SSLMem per sample (LOC Eq. 1) and its normalisations (Eq. 2 and the authors' code) on
// device data: the CUDA backend of sslmem.hpp, with the same options and messages.

#include <type_traits>

#include "core.hpp"
#include "cuda_exec.cuh"
#include "detail/alignment_checks.hpp"
#include "detail/cuda/sslmem_scores.cuh"

namespace memloc {

// out(i) = the SSLMem score of sample i from its alignments under f and g. The alignments
// are checked on the device; the call waits for the stream at its end to report them, and
// leaves `out` unwritten when it throws.
template <class F, class G, class SpaceF, class SpaceG, class SpaceOut>
void sslmem(const cuda_exec& exec, const vector_view<F, SpaceF>& ssl_f, const vector_view<G, SpaceG>& ssl_g,
            const vector_view<double, SpaceOut>& out, const sslmem_options& options = {}) {
  static_assert(std::is_same_v<std::remove_const_t<F>, double> && std::is_same_v<std::remove_const_t<G>, double>,
                "alignments are double");
  static_assert(device_accessible_v<SpaceF> && device_accessible_v<SpaceG> && device_accessible_v<SpaceOut>,
                "cuda_exec needs device or managed memory (alignments and out)");
  constexpr const char* fn = "memloc::sslmem";
  detail::check_sslmem_options(fn, options);
  detail::check_ssl_views(fn, ssl_f, ssl_g);
  detail::check_output(fn, "out", out, ssl_f.extent(0));
  detail::cuda::sslmem(exec.stream, ssl_f, ssl_g, out, options, fn);
}

}  // namespace memloc
