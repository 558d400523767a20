#pragma once
// Model configurations are stored in checkpoints as "key=value" lines: human-readable, diffable,
// and checked field by field on load.
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/view.hpp"

namespace scvae {
namespace detail {

class KeyValues {
 public:
  KeyValues() = default;
  static KeyValues parse(const std::string& text, const std::string& where) {
    KeyValues kv;
    std::istringstream in(text);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.empty()) continue;
      const auto eq = line.find('=');
      if (eq == std::string::npos)
        throw InputError(where + ": line " + std::to_string(n) + ": expected key=value, got '" + line + "'");
      kv.values_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    kv.where_ = where;
    return kv;
  }
  void set(const std::string& k, const std::string& v) { values_[k] = v; order_.push_back(k); }
  void set(const std::string& k, double v) {
    std::ostringstream o;
    o.precision(17);
    o << v;
    set(k, o.str());
  }
  void set(const std::string& k, Index v) { set(k, std::to_string(v)); }
  void set(const std::string& k, int v) { set(k, std::to_string(v)); }
  void set(const std::string& k, bool v) { set(k, std::string(v ? "1" : "0")); }
  void set(const std::string& k, const std::vector<Index>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    set(k, s);
  }
  std::string text() const {
    std::string s;
    for (const auto& k : order_) s += k + "=" + values_.at(k) + "\n";
    return s;
  }

  const std::string& str(const std::string& k) const {
    auto it = values_.find(k);
    if (it == values_.end()) throw InputError(where_ + ": missing field '" + k + "'");
    read_.insert(k);
    return it->second;
  }
  // Keys present but never read: a field this version does not know (a newer writer's option),
  // which a reader must refuse rather than build a different model.
  std::vector<std::string> unread() const {
    std::vector<std::string> v;
    for (const auto& kv : values_)
      if (!read_.count(kv.first)) v.push_back(kv.first);
    return v;
  }
  bool has(const std::string& k) const { return values_.count(k) > 0; }
  double num(const std::string& k) const {
    try {
      std::size_t pos = 0;
      const double v = std::stod(str(k), &pos);
      if (pos != str(k).size()) throw std::invalid_argument(k);
      return v;
    } catch (const std::logic_error&) {
      throw InputError(where_ + ": field '" + k + "' is not a number: '" + str(k) + "'");
    }
  }
  Index integer(const std::string& k) const { return static_cast<Index>(num(k)); }
  bool flag(const std::string& k) const { return num(k) != 0.0; }
  std::vector<Index> list(const std::string& k) const {
    std::vector<Index> v;
    std::istringstream in(str(k));
    std::string item;
    while (std::getline(in, item, ',')) {
      try {
        v.push_back(std::stol(item));
      } catch (const std::logic_error&) {
        throw InputError(where_ + ": field '" + k + "' has a non-integer item '" + item + "'");
      }
    }
    return v;
  }

 private:
  std::map<std::string, std::string> values_;
  mutable std::set<std::string> read_;
  std::vector<std::string> order_;
  std::string where_ = "config";
};

}  // namespace detail
}  // namespace scvae
