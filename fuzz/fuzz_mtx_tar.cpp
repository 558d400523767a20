// libFuzzer: tar archives of 10x MTX folders -> read_10x_mtx_tar_buffer.
// The last byte holds the flags (bits 0-2 options, 2-4 genome, 5 feature type, 7 mode); a tar or
// gzip stream ignores it, so the seed archives stay valid.
// Mode "raw" reads the other bytes as the archive (plain or gzip).
// Mode "built" makes an archive from them with tests/tar_test_util.hpp (a 10x folder's three files,
// valid unless the bytes say otherwise, among other members; folders, long-name styles, type
// flags, gzipped members), then perhaps corrupts one byte (with or without a valid checksum),
// truncates it or gzips it: raw mutations rarely get past the header checksums, these do.
#include <fuzzer/FuzzedDataProvider.h>

#include <iterator>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "scvae/data/mtx_tar_reader.hpp"
#include "tar_test_util.hpp"

namespace {

// A MatrixMarket text of genes x cells; `wild` allows bad headers, indices, values, counts and
// duplicates, otherwise it is valid.
std::string matrix_text(FuzzedDataProvider& p, int genes, int cells, bool wild) {
  const int n = p.ConsumeIntegralInRange<int>(1, 12);
  std::string s = wild && p.ConsumeBool() ? "%%MatrixMarket matrix array real general\n"
                                          : "%%MatrixMarket matrix coordinate integer general\n";
  std::string entries;
  std::vector<bool> seen(static_cast<std::size_t>(genes * cells));
  int count = 0;
  for (int k = 0; k < n; ++k) {
    const int g = p.ConsumeIntegralInRange<int>(wild ? 0 : 1, wild ? genes + 1 : genes);
    const int c = p.ConsumeIntegralInRange<int>(wild ? 0 : 1, wild ? cells + 1 : cells);
    if (!wild && seen[static_cast<std::size_t>((g - 1) * cells + (c - 1))]) continue;
    if (!wild) seen[static_cast<std::size_t>((g - 1) * cells + (c - 1))] = true;
    entries += std::to_string(g) + " " + std::to_string(c) + " " +
               std::to_string(p.ConsumeIntegralInRange<int>(wild ? -1 : 1, 9)) + "\n";
    ++count;
  }
  if (wild) count += p.ConsumeIntegralInRange<int>(-1, 1);
  return s + std::to_string(genes) + " " + std::to_string(cells) + " " + std::to_string(count) + "\n" + entries;
}

std::string names_text(FuzzedDataProvider& p, int n, int columns) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += p.ConsumeBool() ? p.ConsumeRandomLengthString(6) : "N" + std::to_string(i);
    if (columns > 1) s += "\tS" + std::to_string(p.ConsumeIntegralInRange<int>(0, n));
    if (columns > 2) s += p.ConsumeBool() ? "\tAntibody Capture" : "\tGene Expression";
    s += "\n";
  }
  return s;
}

void add(FuzzedDataProvider& p, scvae_test::TarWriter& t, const std::string& path, std::string data) {
  static const char types[] = {'0', '\0', '7', '5', '1', '2', 'g', 'x', 'L', 'K', 'Z'};
  if (p.ConsumeBool()) data = scvae_test::gzip_bytes(data, 1);
  const char type = p.ConsumeIntegralInRange<int>(0, 7) == 7
                        ? types[p.ConsumeIntegralInRange<std::size_t>(0, std::size(types) - 1)]
                        : '0';
  const auto how = static_cast<scvae_test::TarLongNames>(p.ConsumeIntegralInRange<int>(0, 2));
  if (type == '0' && !(how == scvae_test::TarLongNames::ustar_prefix && path.size() > 100)) {
    t.file(path, data, how, p.ConsumeBool());
  } else if (type == 'x') {  // a pax header of fuzzed records, then perhaps the file it describes
    t.entry("PaxHeaders/p", 'x', p.ConsumeBool() ? data : scvae_test::TarWriter::pax_record("path", path));
  } else {
    t.entry(path.substr(0, 100), type, data);
  }
}

// A 10x folder's three files (valid unless the bytes say otherwise, in any order, names of any
// style), other members around them, then perhaps one corrupted byte (with or without a valid
// checksum), a truncation or gzip around the whole.
std::string build_archive(FuzzedDataProvider& p) {
  static const char* const folders[] = {"f", "", "a/mm10", "a/hg19", "./f/", "b/mm10", "long"};
  static const char* const bases[] = {"matrix.mtx",   "matrix.mtx.gz", "features.tsv", "features.tsv.gz",
                                      "genes.tsv",    "barcodes.tsv",  "barcodes.tsv.gz", "other.txt"};
  const auto folder = [&] {
    std::string f = folders[p.ConsumeIntegralInRange<std::size_t>(0, std::size(folders) - 1)];
    if (f == "long") f = "outs/" + std::string(p.ConsumeIntegralInRange<std::size_t>(90, 300), 'd') + "/x";
    return f.empty() ? f : f + "/";
  };
  const int genes = p.ConsumeIntegralInRange<int>(1, 6), cells = p.ConsumeIntegralInRange<int>(1, 6);
  const bool wild = p.ConsumeIntegralInRange<int>(0, 3) == 3;
  const int d_genes = wild ? p.ConsumeIntegralInRange<int>(-1, 1) : 0;
  const int d_cells = wild ? p.ConsumeIntegralInRange<int>(-1, 1) : 0;
  const std::string dir = folder();
  const int first = p.ConsumeIntegralInRange<int>(0, 2);
  scvae_test::TarWriter t;
  for (int k = 0; k < 3; ++k) {
    switch ((first + k) % 3) {
      case 0: add(p, t, dir + (p.ConsumeBool() ? "genes.tsv" : "features.tsv"),
                  names_text(p, genes + d_genes, p.ConsumeIntegralInRange<int>(1, 3))); break;
      case 1: add(p, t, dir + "barcodes.tsv", names_text(p, cells + d_cells, 1)); break;
      default: add(p, t, dir + "matrix.mtx", matrix_text(p, genes, cells, wild));
    }
    for (int extra = p.ConsumeIntegralInRange<int>(0, 2); extra > 0; --extra) {
      const std::string base = bases[p.ConsumeIntegralInRange<std::size_t>(0, std::size(bases) - 1)];
      std::string data;
      if (p.ConsumeBool()) data = p.ConsumeRandomLengthString(300);
      else if (base.rfind("matrix", 0) == 0) data = matrix_text(p, genes, cells, wild);
      else {
        const int n = base.rfind("barcodes", 0) == 0 ? cells : genes;
        data = names_text(p, n + p.ConsumeIntegralInRange<int>(-1, 1), 3);
      }
      add(p, t, folder() + base, data);
    }
  }
  std::string s = t.finish(!p.ConsumeBool());
  if (p.ConsumeIntegralInRange<int>(0, 3) == 3) {
    const std::size_t at = p.ConsumeIntegralInRange<std::size_t>(0, s.size() - 1);
    s[at] = static_cast<char>(p.ConsumeIntegral<std::uint8_t>());
    if (p.ConsumeBool()) scvae_test::TarWriter::set_checksum(s, at / 512 * 512);
  }
  if (p.ConsumeIntegralInRange<int>(0, 3) == 3) s.resize(p.ConsumeIntegralInRange<std::size_t>(0, s.size()));
  if (p.ConsumeBool()) s = scvae_test::gzip_bytes(s, 1);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[size - 1];
  auto opt = scvae_fuzz::fuzz_options(flags);
  static const char* const genomes[] = {"", "", "", "", "", "mm10", "f", "a/mm10"};
  opt.genome = genomes[(flags >> 2) & 7];
  if (flags & 32) opt.feature_type = "Gene Expression";
  scvae_fuzz::expect_clean([&] {
    std::string built;
    std::string_view bytes(reinterpret_cast<const char*>(data), size - 1);
    if (flags & 128) {
      FuzzedDataProvider p(data, size - 1);
      built = build_archive(p);
      bytes = built;
    }
    const scvae::CsrMatrix m = scvae::read_10x_mtx_tar_buffer(bytes, opt, "fuzz.tar");
    m.validate();
  });
  return 0;
}
