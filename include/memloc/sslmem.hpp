#pragma once

// SSLMem per sample (LOC Eq. 1) and its normalisations (Eq. 2 and the authors' code).

#include <type_traits>

#include "core.hpp"
#include "detail/alignment_checks.hpp"
#include "detail/host/sslmem_scores.hpp"
#include "detail/validate.hpp"

namespace memloc {

namespace detail {

template <class F, class G>
void check_ssl_values(const char* fn, const F& ssl_f, const G& ssl_g) {
  for (index_t i = 0; i < ssl_f.extent(0); ++i) {
    // Alignments are distances; a negative one is a caller's mix-up, not a measurement.
    if (ssl_f(i) < 0.0) fail(fn, "ssl_f(", i, ") must be a distance >= 0, got ", ssl_f(i));
    if (ssl_g(i) < 0.0) fail(fn, "ssl_g(", i, ") must be a distance >= 0, got ", ssl_g(i));
  }
}

}  // namespace detail

// out(i) = the SSLMem score of sample i from its alignments under f and g. out may be ssl_f
// or ssl_g itself; it is left unchanged when the call throws.
template <class F, class G, class SpaceF, class SpaceG, class SpaceOut>
void sslmem(const host_exec&, const vector_view<F, SpaceF>& ssl_f, const vector_view<G, SpaceG>& ssl_g,
            const vector_view<double, SpaceOut>& out, const sslmem_options& options = {}) {
  static_assert(std::is_same_v<std::remove_const_t<F>, double> && std::is_same_v<std::remove_const_t<G>, double>,
                "alignments are double");
  static_assert(host_accessible_v<SpaceF> && host_accessible_v<SpaceG> && host_accessible_v<SpaceOut>,
                "host_exec needs host or managed memory");
  constexpr const char* fn = "memloc::sslmem";
  detail::check_sslmem_options(fn, options);
  detail::check_ssl_views(fn, ssl_f, ssl_g);
  detail::check_ssl_values(fn, ssl_f, ssl_g);
  detail::check_output(fn, "out", out, ssl_f.extent(0));
  detail::host::sslmem_scores(fn, ssl_f, ssl_g, options, out);
}

}  // namespace memloc
