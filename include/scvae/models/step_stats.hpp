#pragma once
// Batch sums returned by a model's forward pass.
#include "../core/view.hpp"

namespace scvae {

struct StepStats {
  double elbo = 0;            // sum over cells of log p(x|z) - KL (KL weight 1)
  double log_likelihood = 0;  // sum over cells of E_q log p(x|z) (one sample)
  double kl = 0;              // sum over cells of the KL term(s)
  double loss = 0;            // the minimised objective: -(1/N) sum (log p - kl_weight * KL)
  Index n = 0;
  StepStats& operator+=(const StepStats& o) {
    elbo += o.elbo;
    log_likelihood += o.log_likelihood;
    kl += o.kl;
    n += o.n;
    return *this;
  }
};

}  // namespace scvae
