#pragma once
// Axis ranges with "nice" ticks (1, 2, 5 x 10^k; Heckbert, Graphics Gems 1990) and log axes.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "svg_text.hpp"

namespace scvae {
namespace detail {

struct Tick {
  double value;  // in data units
  std::string label;
};

struct Axis {
  bool log = false;
  double lo = 0.0, hi = 1.0;  // domain in transformed units (log10 for log axes)
  std::vector<Tick> ticks;

  double transform(double v) const { return log ? std::log10(v) : v; }
  // Whether v can be drawn on this axis at all.
  bool accepts(double v) const { return std::isfinite(v) && (!log || v > 0.0); }
  // Fraction along the axis, 0 at lo, 1 at hi.
  double fraction(double v) const { return (transform(v) - lo) / (hi - lo); }
};

inline double nice_number(double x, bool round) {
  const double e = std::floor(std::log10(x));
  const double f = x / std::pow(10.0, e);
  double nf;
  if (round)
    nf = f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0;
  else
    nf = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0;
  return nf * std::pow(10.0, e);
}

// Axis covering [min, max] of the finite (and, for log, positive) data; [0, 1] when none.
inline Axis make_axis(double min, double max, bool log, int target_ticks = 6) {
  Axis a;
  a.log = log;
  const bool empty = !(min <= max);
  if (log) {
    double lo = empty ? 0.0 : std::floor(std::log10(min) + 1e-12);
    double hi = empty ? 1.0 : std::ceil(std::log10(max) - 1e-12);
    if (hi <= lo) hi = lo + 1.0;
    a.lo = lo;
    a.hi = hi;
    const double stride = std::max(1.0, std::ceil((hi - lo) / target_ticks));
    for (double e = lo; e <= hi + 1e-9; e += stride) {
      const double v = std::pow(10.0, e);
      a.ticks.push_back({v, (e >= -3 && e <= 5) ? tick_label(v, v) : "1e" + std::to_string(static_cast<int>(e))});
    }
    return a;
  }
  double lo = empty ? 0.0 : min, hi = empty ? 1.0 : max;
  if (hi - lo <= std::abs(hi) * 1e-12) {  // a single value: centre it in a unit-ish span
    const double pad = lo == 0.0 ? 0.5 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double step = nice_number(nice_number(hi - lo, false) / (target_ticks - 1), true);
  a.lo = std::floor(lo / step) * step;
  a.hi = std::ceil(hi / step) * step;
  for (double v = a.lo; v <= a.hi + step * 0.5; v += step) a.ticks.push_back({v, tick_label(v, step)});
  return a;
}

}  // namespace detail
}  // namespace scvae
