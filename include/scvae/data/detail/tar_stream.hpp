#pragma once
// Sequential reading of a tar archive (ustar, GNU and pax, as GNU tar, bsdtar and Python's tarfile
// write them) from a ByteSource, which open_source() has already gunzipped for a .tar.gz.
// Only regular files are returned; directories, links, devices and unknown types are skipped.
// A member's data is read in place, never buffered, so a 600 MB matrix.mtx streams through.
//
// Defences: every header's checksum is checked; sizes are octal or GNU base-256 and bounded;
// GNU long names and pax headers are metadata, so they are capped (kMaxTarMeta) before they are
// held; any end of data before the end-of-archive block is an error naming the archive and the
// member, so a truncated download never reads as a smaller data set.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "byte_source.hpp"
#include "parse.hpp"

namespace scvae {
namespace data_detail {

constexpr std::size_t kTarBlock = 512;
constexpr std::uint64_t kMaxTarMeta = std::uint64_t{1} << 20;  // long name or pax header bytes

struct TarEntry {
  std::string path;          // normalised: no leading "/" or "./", no empty or "." components
  std::uint64_t size = 0;    // bytes of data
  std::uint64_t index = 0;   // 0-based position among the archive's regular files (to find it again)
};

// Drops empty and "." components ("./a//b/" -> "a/b"); ".." is kept (nothing is extracted).
inline std::string normalise_tar_path(std::string_view p) {
  std::string out;
  while (!p.empty()) {
    const std::size_t k = std::min(p.find('/'), p.size());
    const std::string_view c = p.substr(0, k);
    if (!c.empty() && c != ".") {
      if (!out.empty()) out += '/';
      out += c;
    }
    p.remove_prefix(std::min(k + 1, p.size()));
  }
  return out;
}

// A NUL-terminated header field of at most n bytes.
inline std::string_view tar_field(const char* f, std::size_t n) {
  return std::string_view(f, static_cast<std::size_t>(std::find(f, f + n, '\0') - f));
}

// Octal (leading blanks, ended by NUL, space or the field's end; blank = 0) or GNU base-256
// (first byte 0x80). false for anything else, a negative base-256 value or >= 2^62.
inline bool parse_tar_number(const char* f, std::size_t n, std::uint64_t& out) {
  constexpr std::uint64_t kMax = std::uint64_t{1} << 62;
  const auto* u = reinterpret_cast<const unsigned char*>(f);
  std::uint64_t v = 0;
  if (u[0] == 0x80) {
    for (std::size_t i = 1; i < n; ++i) {
      if (v >= (kMax >> 8)) return false;
      v = (v << 8) | u[i];
    }
    out = v;
    return true;
  }
  std::size_t i = 0;
  while (i < n && (f[i] == ' ' || f[i] == '\0')) {
    if (f[i] == '\0') {  // all blank up to a NUL
      out = 0;
      return true;
    }
    ++i;
  }
  for (; i < n && f[i] != '\0' && f[i] != ' '; ++i) {
    if (f[i] < '0' || f[i] > '7' || v >= (kMax >> 3)) return false;
    v = v * 8 + static_cast<unsigned>(f[i] - '0');
  }
  for (; i < n; ++i)  // only terminators may follow the digits
    if (f[i] != '\0' && f[i] != ' ') return false;
  out = v;
  return true;
}

class TarReader {
 public:
  // `name` (the archive's path) prefixes every error.
  explicit TarReader(std::unique_ptr<ByteSource> in) : in_(std::move(in)), name_(in_->name()) {}

  const std::string& name() const { return name_; }
  // Bound on any member's size (bounds the readers' reservations as ByteSource::max_bytes does).
  std::uint64_t max_bytes() const { return in_->max_bytes(); }

  // Moves to the next regular file, skipping what is left of the current one. false at the
  // end-of-archive block.
  bool next_file(TarEntry& e) {
    if (ended_) return false;
    skip(remaining_ + padding(member_.size), "the data of member '" + member_.path + "'");
    remaining_ = 0;
    member_ = TarEntry{};
    std::optional<std::string> long_name, pax_path;
    std::optional<std::uint64_t> pax_size;
    char h[kTarBlock];
    for (;;) {
      const std::uint64_t at = pos_;
      const std::size_t got = read_full(h, kTarBlock);
      if (got == 0 && at == 0) fail(name_, "empty file: not a tar archive");
      if (got < kTarBlock)
        fail(name_, "truncated tar archive: it ends at byte " + std::to_string(pos_) +
                        (got ? " inside a header" : " without the end-of-archive block"));
      if (std::all_of(h, h + kTarBlock, [](char c) { return c == '\0'; })) {
        ended_ = true;  // what follows (a second zero block, record padding) is not read
        return false;
      }
      check_checksum(h, at);
      std::uint64_t size = 0;
      if (!parse_tar_number(h + 124, 12, size))
        fail(name_, "bad size field " + quote_field(std::string_view(h + 124, 12)) + " in the tar header at byte " +
                        std::to_string(at));
      const char type = h[156];
      if (type == 'L' || type == 'x') {  // GNU long name, pax extended header: apply to the next header
        const std::string meta = read_meta(size, at, type == 'L' ? "GNU long name" : "pax header");
        if (type == 'L') long_name = std::string(tar_field(meta.data(), meta.size()));
        else parse_pax(meta, at, pax_path, pax_size);
        continue;
      }
      if (type == 'g' || type == 'K') {  // global pax header (ignored), GNU long link name
        skip(size + padding(size), "a tar header at byte " + std::to_string(at));
        continue;
      }
      if (pax_size) size = *pax_size;
      // Pre-POSIX tars mark a directory by a trailing '/' on a regular file's name.
      const bool old_dir = type == '\0' && !long_name && !pax_path && ends_with(tar_field(h, 100), "/");
      if ((type == '0' || type == '\0' || type == '7') && !old_dir) {  // 7: contiguous, read as regular
        std::string path;
        if (pax_path) path = *pax_path;
        else if (long_name) path = *long_name;
        else {
          path = std::string(tar_field(h, 100));
          // POSIX ustar splits long paths into prefix (345..499) + name; GNU uses that area
          // for other fields, so only the POSIX magic "ustar\0" enables it.
          if (std::memcmp(h + 257, "ustar\0", 6) == 0) {
            const std::string_view prefix = tar_field(h + 345, 155);
            if (!prefix.empty()) path = std::string(prefix) + "/" + path;
          }
        }
        member_.path = normalise_tar_path(path);
        member_.size = size;
        member_.index = n_files_++;
        remaining_ = size;
        e = member_;
        return true;
      }
      // Hard and symbolic links, devices, directories, FIFOs carry no data (as tarfile reads
      // them); other types (GNU 'D', 'S', 'V', ...) are skipped with their data.
      if ((type < '1' || type > '6') && !old_dir)
        skip(size + padding(size), "a tar member at byte " + std::to_string(at));
      long_name.reset();
      pax_path.reset();
      pax_size.reset();
    }
  }

  // Reads the current member's data; 0 at its end.
  std::size_t read(char* dst, std::size_t n) {
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, remaining_));
    if (n == 0) return 0;
    const std::size_t got = read_some(dst, n);
    if (got == 0)
      fail(name_, "truncated tar archive: member '" + member_.path + "' ends after " +
                      std::to_string(member_.size - remaining_) + " of its " + std::to_string(member_.size) + " bytes");
    remaining_ -= got;
    return got;
  }

 private:
  static std::uint64_t padding(std::uint64_t size) { return (kTarBlock - size % kTarBlock) % kTarBlock; }

  // One read of the underlying source; its errors (a truncated gzip stream) also name the member.
  std::size_t read_some(char* dst, std::size_t n) {
    std::size_t got = 0;
    try {
      got = in_->read(dst, n);
    } catch (const InputError& err) {
      if (member_.path.empty()) throw;
      throw InputError(std::string(err.what()) + " (in tar member '" + member_.path + "')");
    }
    pos_ += got;
    return got;
  }

  std::size_t read_full(char* dst, std::size_t n) {
    std::size_t have = 0;
    while (have < n) {
      const std::size_t got = read_some(dst + have, n - have);
      if (got == 0) break;
      have += got;
    }
    return have;
  }

  void skip(std::uint64_t n, const std::string& what) {
    if (n == 0) return;
    if (scratch_.empty()) scratch_.resize(std::size_t{64} << 10);
    while (n > 0) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n, scratch_.size()));
      const std::size_t got = read_some(scratch_.data(), want);
      if (got == 0) fail(name_, "truncated tar archive: it ends at byte " + std::to_string(pos_) + " inside " + what);
      n -= got;
    }
  }

  std::string read_meta(std::uint64_t size, std::uint64_t at, const char* what) {
    if (size > kMaxTarMeta)
      fail(name_, std::string(what) + " of " + std::to_string(size) + " bytes in the tar header at byte " +
                      std::to_string(at) + " (more than " + std::to_string(kMaxTarMeta) + ": corrupt?)");
    std::string s(static_cast<std::size_t>(size), '\0');
    if (read_full(s.data(), s.size()) < s.size())
      fail(name_, "truncated tar archive: it ends inside the " + std::string(what) + " at byte " + std::to_string(at));
    skip(padding(size), std::string("the ") + what + " at byte " + std::to_string(at));
    return s;
  }

  // Checksum: the header's bytes summed with the checksum field read as spaces. Some old tars
  // summed signed chars; both are accepted, as GNU tar does.
  void check_checksum(const char* h, std::uint64_t at) const {
    std::uint64_t stored = 0;
    const bool ok = parse_tar_number(h + 148, 8, stored);
    std::int64_t u = 0, s = 0;
    for (std::size_t i = 0; i < kTarBlock; ++i) {
      const bool in_field = i >= 148 && i < 156;
      u += in_field ? ' ' : static_cast<unsigned char>(h[i]);
      s += in_field ? ' ' : static_cast<signed char>(h[i]);
    }
    if (ok && (static_cast<std::int64_t>(stored) == u || static_cast<std::int64_t>(stored) == s)) return;
    fail(name_, "bad tar header checksum at byte " + std::to_string(at) +
                    (at == 0 ? " (not a tar archive?)" : " (corrupt archive)"));
  }

  // pax records: "<length> <key>=<value>\n", the length counting the whole record.
  void parse_pax(std::string_view s, std::uint64_t at, std::optional<std::string>& path,
                 std::optional<std::uint64_t>& size) const {
    const auto bad = [&] { fail(name_, "malformed pax extended header at byte " + std::to_string(at)); };
    while (!s.empty()) {
      if (s.find_first_not_of('\0') == std::string_view::npos) break;  // NUL padding some writers leave
      const char *p = s.data(), *e = p + s.size();
      std::uint64_t len = 0;
      if (!parse_u64(p, e, len) || p == e || *p != ' ' || len > s.size() || len <= std::uint64_t(p - s.data()) + 1 ||
          s[len - 1] != '\n')
        bad();
      const std::string_view rec = s.substr(static_cast<std::size_t>(p - s.data()) + 1,
                                            static_cast<std::size_t>(len) - static_cast<std::size_t>(p - s.data()) - 2);
      const std::size_t eq = rec.find('=');
      if (eq == std::string_view::npos) bad();
      const std::string_view key = rec.substr(0, eq), value = rec.substr(eq + 1);
      if (key == "path") path = std::string(value);
      else if (key == "size") {
        const char *q = value.data(), *qe = q + value.size();
        std::uint64_t v = 0;
        if (!parse_u64(q, qe, v) || q != qe) bad();
        size = v;
      }
      s.remove_prefix(static_cast<std::size_t>(len));
    }
  }

  std::unique_ptr<ByteSource> in_;
  std::string name_;
  TarEntry member_;  // the current regular file (path empty between members)
  std::uint64_t remaining_ = 0, pos_ = 0, n_files_ = 0;
  bool ended_ = false;
  std::vector<char> scratch_;
};

// One member's data as a ByteSource named "archive(member)" (as ld names archive members).
// Holds the reader, so a member opened on a fresh reader keeps it alive.
class TarMemberSource final : public ByteSource {
 public:
  TarMemberSource(std::shared_ptr<TarReader> tar, const TarEntry& e)
      : ByteSource(tar->name() + "(" + e.path + ")"),
        tar_(std::move(tar)),
        size_(std::min(e.size, tar_->max_bytes())) {}
  std::size_t read(char* dst, std::size_t n) override {
    std::size_t k = 0;
    if (head_pos_ < head_.size()) {  // bytes peek() took first
      k = std::min(n, head_.size() - head_pos_);
      std::memcpy(dst, head_.data() + head_pos_, k);
      head_pos_ += k;
      return k;
    }
    return tar_->read(dst, n);
  }
  std::uint64_t max_bytes() const override { return size_; }
  // The first bytes (up to n), left to be read again.
  std::string_view peek(std::size_t n) {
    while (head_.size() < n) {
      char c[16];
      const std::size_t got = tar_->read(c, std::min(sizeof c, n - head_.size()));
      if (got == 0) break;
      head_.append(c, got);
    }
    return head_;
  }

 private:
  std::shared_ptr<TarReader> tar_;
  std::uint64_t size_;
  std::string head_;
  std::size_t head_pos_ = 0;
};

// The current member of `tar`, gunzipped when it starts with the gzip magic number.
inline std::unique_ptr<ByteSource> open_tar_member(std::shared_ptr<TarReader> tar, const TarEntry& e) {
  auto m = std::make_unique<TarMemberSource>(std::move(tar), e);
  const std::string_view head = m->peek(2);
  if (has_gzip_magic(reinterpret_cast<const unsigned char*>(head.data()), head.size()))
    return std::make_unique<InflateSource>(std::move(m));
  return m;
}

}  // namespace data_detail
}  // namespace scvae
