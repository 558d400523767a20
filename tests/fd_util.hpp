#pragma once
// Central finite differences in double precision, shared by the gradient tests.
// Relative error is ||analytic - numeric|| / max(||analytic + numeric||, tiny), as mlpack reports it.
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <scvae/core/arena.hpp>
#include <scvae/core/random.hpp>

namespace scvae_test {

struct GradCheck {
  double rel_error = 0;
  double max_abs_error = 0;
  std::size_t n = 0;
};

// f() evaluates the scalar objective from the current contents of x[0..n).
inline GradCheck finite_difference(double* x, std::size_t n, const std::vector<double>& analytic,
                                   const std::function<double()>& f, double h = 1e-6) {
  GradCheck r;
  r.n = n;
  double num = 0, den = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double fp = f();
    x[i] = x0 - h;
    const double fm = f();
    x[i] = x0;
    const double g = (fp - fm) / (2 * h);
    const double d = analytic[i] - g;
    num += d * d;
    den += (analytic[i] + g) * (analytic[i] + g);
    r.max_abs_error = std::max(r.max_abs_error, std::fabs(d));
  }
  r.rel_error = std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
  return r;
}

inline void report(const std::string& what, const GradCheck& r) {
  std::printf("  grad check %-40s n=%-6zu rel_error=%.3e max_abs_error=%.3e\n", what.c_str(), r.n, r.rel_error,
              r.max_abs_error);
}

inline void fill_normal(double* x, std::size_t n, scvae::Rng& rng, double sd = 1.0) {
  for (std::size_t i = 0; i < n; ++i) x[i] = sd * rng.normal();
}

}  // namespace scvae_test
