#pragma once
// Text and number formatting for SVG output. Numbers never go through the C locale's decimal
// separator (a program that set a German locale must still write "1.5", not "1,5").
#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace scvae {
namespace detail {

// Escapes the five XML special characters and drops control characters XML 1.0 forbids.
inline std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (u < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') break;
        out += ch;
    }
  }
  return out;
}

// printf-style formatting with '.' as the decimal point whatever the locale.
inline std::string format_c(const char* fmt, int precision, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, precision, v);
  std::string s(buf);
  const char* dp = std::localeconv()->decimal_point;
  if (dp && dp[0] && !(dp[0] == '.' && dp[1] == '\0')) {
    const std::string sep(dp);
    for (std::size_t p = s.find(sep); p != std::string::npos; p = s.find(sep, p + 1)) s.replace(p, sep.size(), ".");
  }
  return s;
}

// SVG coordinate with one decimal (0.1 px is below what any renderer shows); "-0" becomes "0".
inline std::string coord(double v) {
  const auto tenths = static_cast<std::int64_t>(std::llround(v * 10.0));
  if (tenths == 0) return "0";
  const std::int64_t a = tenths < 0 ? -tenths : tenths;
  std::string s = (tenths < 0 ? "-" : "") + std::to_string(a / 10);
  if (a % 10) s += "." + std::to_string(a % 10);
  return s;
}

// Tick label for value v on an axis with tick spacing `step`: as many decimals as the step
// needs, scientific notation for very large or small magnitudes.
inline std::string tick_label(double v, double step) {
  if (std::abs(v) < step * 1e-9) v = 0.0;
  const double mag = std::max(std::abs(v), step);
  if (mag >= 1e6 || mag < 1e-3) {
    std::string s = format_c("%.*g", 3, v);
    const auto e = s.find("e+");
    if (e != std::string::npos) s.erase(e + 1, 1);  // 1e+06 -> 1e06
    return s;
  }
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return format_c("%.*f", decimals, v);
}

}  // namespace detail
}  // namespace scvae
