#pragma once
// Hand-written field and number parsing for the text readers (no iostreams, no locale).
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace scvae {
namespace data_detail {

// Counts are stored as float: integers are exact up to 2^24.
constexpr double kMaxCount = 16777216.0;

inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

inline void skip_blanks(const char*& p, const char* e) {
  while (p < e && is_blank(*p)) ++p;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_blank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Removes one pair of surrounding double quotes ("x" -> x, R's write.table style).
inline std::string_view unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

// Parses an unsigned decimal integer; false if there are no digits or it exceeds 10^18.
inline bool parse_u64(const char*& p, const char* e, std::uint64_t& out) {
  const char* s = p;
  std::uint64_t v = 0;
  while (p < e && static_cast<unsigned>(*p - '0') < 10u) {
    v = v * 10 + static_cast<unsigned>(*p - '0');
    if (v > 1000000000000000000ull) return false;
    ++p;
  }
  out = v;
  return p != s;
}

enum class CountStatus { ok, not_a_number, negative, non_integer, too_large };

inline const char* count_status_text(CountStatus s) {
  switch (s) {
    case CountStatus::ok: return "ok";
    case CountStatus::not_a_number: return "not a number";
    case CountStatus::negative: return "negative count";
    case CountStatus::non_integer: return "non-integer count";
    case CountStatus::too_large: return "count too large to store exactly (> 2^24)";
  }
  return "?";
}

// Checks a parsed value is a count: finite, non-negative, integral, exactly representable.
inline CountStatus check_count(double d) {
  if (!std::isfinite(d)) return CountStatus::not_a_number;
  if (d < 0) return CountStatus::negative;
  if (d != std::floor(d)) return CountStatus::non_integer;
  if (d > kMaxCount) return CountStatus::too_large;
  return CountStatus::ok;
}

// Parses a count at p (digits fast path; "3.0", "1e2", "-0" through from_chars). Advances p to the
// end of the number token (stops at a blank, separator or end).
inline CountStatus parse_count(const char*& p, const char* e, float& out) {
  const char* s = p;
  std::uint64_t v = 0;
  while (p < e && static_cast<unsigned>(*p - '0') < 10u && p - s < 12) {
    v = v * 10 + static_cast<unsigned>(*p - '0');
    ++p;
  }
  if (p != s && (p == e || is_blank(*p) || *p == ',' || *p == '\r')) {
    if (v > static_cast<std::uint64_t>(kMaxCount)) return CountStatus::too_large;
    out = static_cast<float>(v);
    return CountStatus::ok;
  }
  p = s;
  double d = 0;
  const char* q = s;
  if (q < e && *q == '+') ++q;  // from_chars rejects a leading '+'
  const auto r = std::from_chars(q, e, d);
  if (r.ec == std::errc::result_out_of_range) {
    p = r.ptr;
    return CountStatus::too_large;
  }
  if (r.ec != std::errc() || r.ptr == q) return CountStatus::not_a_number;
  p = r.ptr;
  if (p < e && !(is_blank(*p) || *p == ',' || *p == '\r')) return CountStatus::not_a_number;
  const CountStatus st = check_count(d);
  if (st == CountStatus::ok) out = static_cast<float>(d);
  return st;
}

// Splits on one delimiter character (no quoting rules beyond unquote() of each field).
inline void split_fields(std::string_view line, char delim, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t start = 0;
  for (;;) {
    const std::size_t pos = line.find(delim, start);
    if (pos == std::string_view::npos) {
      out.push_back(line.substr(start));
      return;
    }
    out.push_back(line.substr(start, pos - start));
    start = pos + 1;
  }
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return r;
}

// "a, b, c" for an error message listing what a file has (layers, genomes, columns); "" for none.
inline std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Shortens a field for an error message.
// Control bytes (ESC, NUL, DEL, ...) are written as \xNN: a binary file's error message must not
// drive the terminal or be cut short at a NUL. UTF-8 names pass unchanged.
inline std::string quote_field(std::string_view s) {
  const bool cut = s.size() > 40;
  std::string out = "'";
  for (unsigned char c : s.substr(0, 40)) {
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out + (cut ? "...'" : "'");
}

}  // namespace data_detail
}  // namespace scvae
