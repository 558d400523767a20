#pragma once
// Name lists (barcodes, features) and gene-name resolution shared by the MTX and 10x .h5 readers.
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../read_options.hpp"
#include "line_reader.hpp"
#include "parse.hpp"

namespace scvae {
namespace data_detail {

struct FeatureTable {
  std::vector<std::string> ids, symbols, types;  // symbols/types empty when the file lacks them
};

// Reads a TSV of names, one per line; keeps up to 3 columns. Empty lines are errors (they would
// shift every name after them).
inline FeatureTable read_feature_lines(std::unique_ptr<ByteSource> src) {
  LineReader lr(std::move(src), std::size_t{1} << 20);
  FeatureTable t;
  std::string_view line;
  std::vector<std::string_view> f;
  std::size_t n_cols = 0;
  while (lr.next(line)) {
    if (trim(line).empty()) lr.fail_here("empty line in a name list");
    split_fields(line, '\t', f);
    if (t.ids.empty()) n_cols = f.size();
    else if (f.size() != n_cols)
      lr.fail_here("expected " + std::to_string(n_cols) + " tab-separated fields, found " + std::to_string(f.size()));
    t.ids.emplace_back(unquote(f[0]));
    if (f.size() > 1) t.symbols.emplace_back(unquote(f[1]));
    if (f.size() > 2) t.types.emplace_back(unquote(f[2]));
  }
  return t;
}

inline bool is_missing_name(const std::string& s) { return s.empty() || s == "NA" || s == "nan"; }

inline bool all_present_unique(const std::vector<std::string>& v) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(v.size());
  for (const auto& s : v)
    if (is_missing_name(s) || !seen.insert(s).second) return false;
  return true;
}

// Appends "-1", "-2", ... to repeated names (as scanpy's var_names_make_unique).
inline void make_unique(std::vector<std::string>& names) {
  std::unordered_set<std::string> used(names.begin(), names.end());
  std::unordered_map<std::string, int> seen;
  for (auto& s : names) {
    if (seen[s]++ == 0) continue;
    std::string base = s;
    int k = seen[base] - 1;
    std::string cand;
    do cand = base + "-" + std::to_string(k++);
    while (used.count(cand));
    used.insert(cand);
    s = cand;
  }
}

inline std::vector<std::string> resolve_gene_names(FeatureTable& t, GeneNames how, const std::string& file) {
  const bool have_sym = !t.symbols.empty();
  if (how == GeneNames::id) return std::move(t.ids);
  if (how == GeneNames::symbol) {
    if (!have_sym) fail(file, "gene_names = symbol but the feature file has no second column");
    return std::move(t.symbols);
  }
  if (all_present_unique(t.ids)) return std::move(t.ids);
  if (have_sym && all_present_unique(t.symbols)) return std::move(t.symbols);
  std::vector<std::string> names(t.ids.size());
  for (std::size_t i = 0; i < names.size(); ++i)
    names[i] = (is_missing_name(t.ids[i]) && have_sym) ? t.symbols[i] : t.ids[i];
  make_unique(names);
  return names;
}

}  // namespace data_detail
}  // namespace scvae
