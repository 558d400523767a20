#pragma once
// Which count likelihood the decoder ends in, and how its heads are laid out.
// The decoder's output is one stacked matrix `heads` [P*G x B]: head p occupies rows
// p*G .. p*G+G-1. Head 0 is the log-mean; NB/ZINB with Dispersion::gene_cell have head 1 = log
// theta; ZIP/ZINB have the zero-inflation logit as their last head. With Dispersion::gene, log
// theta is a per-gene parameter vector [G] instead of a head (scvi-tools' default).
#include <string>

#include "../core/config.hpp"
#include "../core/error.hpp"

namespace scvae {

enum class Likelihood { poisson, nb, zip, zinb };
enum class Dispersion { gene_cell, gene };

struct LikelihoodSpec {
  Likelihood kind = Likelihood::nb;
  Dispersion dispersion = Dispersion::gene_cell;  // ignored by poisson and zip
};

SCVAE_HD constexpr bool has_dispersion(Likelihood k) { return k == Likelihood::nb || k == Likelihood::zinb; }
SCVAE_HD constexpr bool has_zero_inflation(Likelihood k) { return k == Likelihood::zip || k == Likelihood::zinb; }

// Whether log theta is the per-gene parameter vector (and not a head).
SCVAE_HD constexpr bool has_gene_dispersion(LikelihoodSpec s) {
  return has_dispersion(s.kind) && s.dispersion == Dispersion::gene;
}
// Head index of log theta, or -1 when it is not a head.
SCVAE_HD constexpr int theta_head(LikelihoodSpec s) {
  return has_dispersion(s.kind) && s.dispersion == Dispersion::gene_cell ? 1 : -1;
}
// Number of stacked heads P: poisson 1, nb 2|1, zip 2, zinb 3|2 (gene_cell | gene).
SCVAE_HD constexpr int n_heads(LikelihoodSpec s) {
  return 1 + (theta_head(s) >= 0 ? 1 : 0) + (has_zero_inflation(s.kind) ? 1 : 0);
}
// Head index of the zero-inflation logit, or -1.
SCVAE_HD constexpr int pi_head(LikelihoodSpec s) { return has_zero_inflation(s.kind) ? n_heads(s) - 1 : -1; }

inline const char* to_string(Likelihood k) {
  switch (k) {
    case Likelihood::poisson: return "poisson";
    case Likelihood::nb: return "nb";
    case Likelihood::zip: return "zip";
    case Likelihood::zinb: return "zinb";
  }
  return "?";
}
inline const char* to_string(Dispersion d) { return d == Dispersion::gene ? "gene" : "gene-cell"; }

inline Likelihood parse_likelihood(const std::string& name) {
  if (name == "poisson") return Likelihood::poisson;
  if (name == "nb") return Likelihood::nb;
  if (name == "zip") return Likelihood::zip;
  if (name == "zinb") return Likelihood::zinb;
  throw InputError("scvae: unknown likelihood '" + name + "' (expected poisson, nb, zip or zinb)");
}
inline Dispersion parse_dispersion(const std::string& name) {
  if (name == "gene-cell") return Dispersion::gene_cell;
  if (name == "gene") return Dispersion::gene;
  throw InputError("scvae: unknown dispersion '" + name + "' (expected gene-cell or gene)");
}

}  // namespace scvae
