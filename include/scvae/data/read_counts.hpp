#pragma once
// One entry point for every supported count-matrix format, chosen from the path:
//   directory           -> 10x MTX folder (read_10x_mtx_dir)
//   *.mtx, *.mtx.gz     -> MatrixMarket (read_mtx; names from sibling files are not guessed)
//   *.tar, *.tar.gz, *.tgz -> a 10x MTX folder inside a tar archive (read_10x_mtx_tar)
//   *.h5                -> 10x Cell Ranger HDF5 (read_10x_h5)
//   *.h5ad              -> AnnData (read_h5ad)
//   *.loom              -> Loom (read_loom)
//   *.tsv, *.csv, *.txt (optionally .gz) -> dense table (read_dense_table)
#include <filesystem>
#include <string>

#include "csr_matrix.hpp"
#include "dense_table_reader.hpp"
#include "h5ad_reader.hpp"
#include "loom_reader.hpp"
#include "mtx_reader.hpp"
#include "mtx_tar_reader.hpp"
#include "read_options.hpp"
#include "tenx_h5_reader.hpp"

namespace scvae {

enum class CountFormat { mtx_dir, mtx, tenx_h5, h5ad, loom, dense_table, mtx_tar };

// Throws InputError for a missing path or an unknown extension.
inline CountFormat detect_count_format(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) data_detail::fail(path, "no such file or directory");
  if (std::filesystem::is_directory(path, ec)) return CountFormat::mtx_dir;
  std::string n = data_detail::lower(std::filesystem::path(path).filename().string());
  if (data_detail::ends_with(n, ".h5ad")) return CountFormat::h5ad;
  if (data_detail::ends_with(n, ".loom")) return CountFormat::loom;
  if (data_detail::ends_with(n, ".h5") || data_detail::ends_with(n, ".hdf5")) return CountFormat::tenx_h5;
  if (data_detail::ends_with(n, ".tar") || data_detail::ends_with(n, ".tar.gz") || data_detail::ends_with(n, ".tgz"))
    return CountFormat::mtx_tar;
  for (const char* z : {".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst"})
    if (data_detail::ends_with(n, z))
      data_detail::fail(path, "only plain or gzipped tar archives are read: recompress it with gzip (.tar.gz)");
  if (data_detail::ends_with(n, ".gz")) n.resize(n.size() - 3);
  if (data_detail::ends_with(n, ".mtx")) return CountFormat::mtx;
  if (data_detail::ends_with(n, ".tsv") || data_detail::ends_with(n, ".csv") || data_detail::ends_with(n, ".txt"))
    return CountFormat::dense_table;
  data_detail::fail(path,
                    "unknown count-matrix format (expected a 10x folder, a .tar[.gz]/.tgz of one, .mtx[.gz], .h5, "
                    ".h5ad, .loom, .tsv/.csv[.gz])");
}

inline CsrMatrix read_counts(const std::string& path, const ReadOptions& opt = {}) {
  switch (detect_count_format(path)) {
    case CountFormat::mtx_dir: return read_10x_mtx_dir(path, opt);
    case CountFormat::mtx: return read_mtx(path, opt);
    case CountFormat::tenx_h5: return read_10x_h5(path, opt);
    case CountFormat::h5ad: return read_h5ad(path, opt);
    case CountFormat::loom: return read_loom(path, opt);
    case CountFormat::dense_table: return read_dense_table(path, opt);
    case CountFormat::mtx_tar: return read_10x_mtx_tar(path, opt);
  }
  data_detail::fail(path, "unreachable");
}

}  // namespace scvae
