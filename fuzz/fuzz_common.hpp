#pragma once
// Shared by the libFuzzer targets: small size limits (so a header claiming 10^9 cells is refused
// rather than allocated) and the rule that bad input may only ever end in scvae::InputError.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scvae/core/error.hpp"
#include "scvae/data/read_options.hpp"

namespace scvae_fuzz {

inline scvae::ReadOptions fuzz_options(std::uint8_t flags) {
  scvae::ReadOptions o;
  o.limits.max_rows = 4096;
  o.limits.max_cols = 4096;
  o.orientation = (flags & 1) ? scvae::Orientation::cells_by_genes : scvae::Orientation::genes_by_cells;
  o.gene_names = static_cast<scvae::GeneNames>((flags >> 1) % 3);
  return o;
}

// Runs f; InputError is the expected outcome of bad input, anything else escapes and crashes.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const scvae::InputError&) {
  }
}

}  // namespace scvae_fuzz
