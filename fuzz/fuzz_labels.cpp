// libFuzzer: label tables -> read_labels_buffer, then match_labels / encode_labels.
#include "fuzz_common.hpp"
#include "scvae/data/labels.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[size - 1];
  scvae::LabelOptions o;
  o.header = flags & 1;
  o.column_index = (flags >> 1) & 3;
  o.key_column = (flags >> 3) & 1;
  if (o.header && (flags & 0x20)) o.column = "label";
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  scvae_fuzz::expect_clean([&] {
    const scvae::CellLabels l = scvae::read_labels_buffer(bytes, o, (flags & 0x40) ? "fuzz.csv" : "fuzz.tsv");
    if (l.cells.size() != l.labels.size()) __builtin_trap();
    const auto matched = scvae::match_labels({l.cells.front(), "no-such-cell"}, l, true);
    if (matched[0] != l.labels.front()) __builtin_trap();
    (void)scvae::encode_labels(matched);
  });
  return 0;
}
