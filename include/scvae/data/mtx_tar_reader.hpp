#pragma once
// 10x MTX folders inside a tar archive (.tar, .tar.gz, .tgz), as Cell Ranger v2 tarballs
// (filtered_gene_bc_matrices/<genome>/{matrix.mtx, genes.tsv, barcodes.tsv}) and tarred v3
// folders (filtered_feature_bc_matrix/{matrix.mtx.gz, features.tsv.gz, barcodes.tsv.gz}) are
// published; scVAE read them directly. The result is what read_10x_mtx_dir gives for the folder
// extracted: the same files chosen, the same names, gene_names and feature_type handling.
//
// One pass over the archive, members in any order: the matrix streams from the archive into the
// CSR builder (never extracted, never held as text), the name lists are parsed as they pass.
// A folder is any directory holding a matrix.mtx[.gz]; with several (a v2 tarball of mm10/ and
// hg19/), ReadOptions::genome names the one to read, by its last component or its full path.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "csr_matrix.hpp"
#include "detail/tar_stream.hpp"
#include "mtx_reader.hpp"
#include "read_options.hpp"

namespace scvae {
namespace data_detail {

// The kind of 10x file a member's base name is, and its rank among that kind's names.
inline bool tenx_file_kind(std::string_view base, TenxFile& kind, int& rank) {
  const auto& names = tenx_file_names();
  for (std::size_t k = 0; k < names.size(); ++k)
    for (std::size_t r = 0; r < names[k].size(); ++r)
      if (base == names[k][r]) {
        kind = static_cast<TenxFile>(k);
        rank = static_cast<int>(r);
        return true;
      }
  return false;
}

struct TarTenxFolder {
  static constexpr int kNone = 1 << 30;
  std::string path;  // "" = the archive's top level
  bool has_matrix = false;
  int rank[3] = {kNone, kNone, kNone};  // rank of the file read for each TenxFile kind
  std::string file[3];                  // its name in messages: "archive(member)"
  std::optional<CsrMatrix> matrix;
  FeatureTable genes;
  std::vector<std::string> cells;

  std::string shown() const { return path.empty() ? "." : path; }
  bool named(const std::string& genome) const {
    return path == genome || std::string_view(path).substr(path.rfind('/') + 1) == genome;
  }
};

using ArchiveOpener = std::function<std::unique_ptr<ByteSource>()>;

inline CsrMatrix read_10x_mtx_tar_source(const ArchiveOpener& open_archive, const ReadOptions& opt) {
  auto tar = std::make_shared<TarReader>(open_archive());
  const std::string archive = tar->name();
  ReadOptions o = opt;
  o.orientation = Orientation::genes_by_cells;
  const auto wanted = [&](const TarTenxFolder& f) { return opt.genome.empty() || f.named(opt.genome); };

  std::vector<TarTenxFolder> folders;  // in order of first appearance
  std::size_t matrix_folder = SIZE_MAX;
  bool ambiguous = false;  // two wanted folders hold a matrix: only the headers are read on
  TarEntry e;
  while (tar->next_file(e)) {
    const std::size_t slash = e.path.rfind('/');
    const std::string dir = slash == std::string::npos ? std::string() : e.path.substr(0, slash);
    TenxFile kind;
    int rank = 0;
    if (!tenx_file_kind(std::string_view(e.path).substr(slash + 1), kind, rank)) continue;
    std::size_t fi = 0;
    while (fi < folders.size() && folders[fi].path != dir) ++fi;
    if (fi == folders.size()) folders.emplace_back().path = dir;
    TarTenxFolder& f = folders[fi];
    if (kind == tenx_matrix) f.has_matrix = true;
    if (!wanted(f)) continue;
    if (kind == tenx_matrix) {
      if (matrix_folder != SIZE_MAX && matrix_folder != fi) ambiguous = true;
      else matrix_folder = fi;
    }
    // A later member of the same name replaces an earlier one, as extracting the archive would.
    if (ambiguous || rank > f.rank[kind]) continue;
    f.rank[kind] = rank;
    f.file[kind] = archive + "(" + e.path + ")";
    if (kind == tenx_features) f.genes = read_feature_lines(open_tar_member(tar, e));
    else if (kind == tenx_barcodes) f.cells = read_feature_lines(open_tar_member(tar, e)).ids;
    else {
      f.matrix.reset();
      bool first = true;
      const TarEntry at = e;
      // The first opening streams this member; another (to name a duplicate entry's two lines,
      // a rare error path) reads the archive again up to it.
      const SourceOpener open = [&, at]() -> std::unique_ptr<ByteSource> {
        if (first) {
          first = false;
          return open_tar_member(tar, at);
        }
        auto again = std::make_shared<TarReader>(open_archive());
        TarEntry x;
        while (again->next_file(x))
          if (x.index == at.index) return open_tar_member(again, x);
        fail(archive, "member '" + at.path + "' not found when reading the archive again");
      };
      f.matrix = read_mtx_matrix(open, o);
    }
  }

  std::vector<std::string> all, matching;
  std::vector<TarTenxFolder*> chosen;
  for (auto& f : folders) {
    if (!f.has_matrix) continue;
    all.push_back(f.shown());
    if (wanted(f)) {
      matching.push_back(f.shown());
      chosen.push_back(&f);
    }
  }
  if (all.empty()) fail(archive, "no 10x matrix folder in this archive (no matrix.mtx[.gz] in any folder)");
  if (chosen.empty())
    fail(archive, "no 10x matrix folder named '" + opt.genome + "' in this archive; its folders: " + join_names(all));
  if (chosen.size() > 1) {
    if (opt.genome.empty())
      fail(archive, "several 10x matrix folders (" + join_names(all) +
                        "): set ReadOptions::genome (--genome) to the one to read");
    fail(archive, "several 10x matrix folders named '" + opt.genome + "' (" + join_names(matching) +
                      "): give the folder's full path");
  }
  TarTenxFolder& f = *chosen[0];
  if (f.rank[tenx_features] == TarTenxFolder::kNone)
    fail(archive, "no features.tsv[.gz] or genes.tsv[.gz] in the 10x folder '" + f.shown() + "'");
  if (f.rank[tenx_barcodes] == TarTenxFolder::kNone)
    fail(archive, "no barcodes.tsv[.gz] in the 10x folder '" + f.shown() + "'");
  CsrMatrix m = std::move(*f.matrix);
  attach_names(m, &f.genes, f.file[tenx_features], &f.cells, f.file[tenx_barcodes], o, f.file[tenx_matrix]);
  return m;
}

}  // namespace data_detail

// Reads the 10x MTX folder inside a .tar, .tar.gz or .tgz (gzip detected from the bytes).
inline CsrMatrix read_10x_mtx_tar(const std::string& path, const ReadOptions& opt = {}) {
  return data_detail::read_10x_mtx_tar_source([path] { return data_detail::open_source(path); }, opt);
}

// The same from archive bytes held in memory (gzipped or plain); `name` appears in errors.
inline CsrMatrix read_10x_mtx_tar_buffer(std::string_view bytes, const ReadOptions& opt = {},
                                         const std::string& name = "<memory>") {
  return data_detail::read_10x_mtx_tar_source([bytes, name] { return data_detail::open_memory(bytes, name); }, opt);
}

}  // namespace scvae
