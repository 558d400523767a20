#pragma once
// Byte sources for the text readers: a file, a memory buffer, or either one gunzipped on the fly.
// Decompression is our own zlib inflate loop (not gzread) so that a truncated or corrupt stream is
// always reported, concatenated gzip members are read, and fuzzers can feed bytes from memory.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../../core/error.hpp"
#include "../../core/system.hpp"

namespace scvae {
namespace data_detail {

// "scvae: <file>:<line>: <msg>" (line omitted when 0).
[[noreturn]] inline void fail(const std::string& file, std::int64_t line, const std::string& msg) {
  std::string s = "scvae: " + file;
  if (line > 0) s += ":" + std::to_string(line);
  throw InputError(s + ": " + msg);
}
[[noreturn]] inline void fail(const std::string& file, const std::string& msg) { fail(file, 0, msg); }

// A header may declare any number of cells while holding almost no entries; the CSR row offsets
// (and a reader's per-row counts) take 16 bytes a cell whatever the entries. Refuses a count
// whose offsets alone would not fit in this machine's memory, before allocating them.
inline void check_cells_fit(const std::string& file, std::int64_t line, std::uint64_t cells) {
  const double have = physical_memory_bytes(), need = 16.0 * double(cells);
  if (have > 0 && need > have) {
    char msg[200];
    std::snprintf(msg, sizeof msg, "declares %llu cells: their row offsets alone need %.1f GB, more than this machine's %.1f GB",
                  static_cast<unsigned long long>(cells), need / 1e9, have / 1e9);
    fail(file, line, msg);
  }
}

class ByteSource {
 public:
  explicit ByteSource(std::string name) : name_(std::move(name)) {}
  virtual ~ByteSource() = default;
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;
  // Reads up to n bytes into dst; returns 0 only at the end of the data. Throws InputError.
  virtual std::size_t read(char* dst, std::size_t n) = 0;
  // Upper bound on the number of bytes read() can return in total (bounds reservations, so a
  // header that claims 10^12 entries cannot make us allocate before the data proves it).
  virtual std::uint64_t max_bytes() const = 0;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::string& path) : ByteSource(path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, expected a file");
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) fail(path, std::string("cannot open file: ") + std::strerror(errno));
    std::setvbuf(f_, nullptr, _IONBF, 0);  // we always read large blocks
    const auto sz = std::filesystem::file_size(path, ec);
    size_ = ec ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(sz);
  }
  ~FileSource() override {
    if (f_) std::fclose(f_);
  }
  std::size_t read(char* dst, std::size_t n) override {
    const std::size_t got = std::fread(dst, 1, n, f_);
    if (got < n && std::ferror(f_)) fail(name(), std::string("read error: ") + std::strerror(errno));
    return got;
  }
  std::uint64_t max_bytes() const override { return size_; }
  // Reads the first bytes without consuming them (regular files only).
  std::size_t peek(unsigned char* dst, std::size_t n) {
    const std::size_t got = std::fread(dst, 1, n, f_);
    std::rewind(f_);
    return got;
  }

 private:
  std::FILE* f_ = nullptr;
  std::uint64_t size_ = 0;
};

class MemorySource final : public ByteSource {
 public:
  MemorySource(std::string_view bytes, std::string name) : ByteSource(std::move(name)), rest_(bytes), size_(bytes.size()) {}
  std::size_t read(char* dst, std::size_t n) override {
    n = std::min(n, rest_.size());
    if (n) std::memcpy(dst, rest_.data(), n);
    rest_.remove_prefix(n);
    return n;
  }
  std::uint64_t max_bytes() const override { return size_; }

 private:
  std::string_view rest_;
  std::uint64_t size_;
};

// gunzips another source. Concatenated members are read in turn; bytes after the last member that
// do not start a new gzip member are ignored (as gzip -d does).
class InflateSource final : public ByteSource {
 public:
  explicit InflateSource(std::unique_ptr<ByteSource> in)
      : ByteSource(in->name()),
        in_(std::move(in)),
        buf_(static_cast<std::size_t>(std::clamp<std::uint64_t>(in_->max_bytes() + 2, 4096, std::uint64_t{1} << 20))) {
    std::memset(&zs_, 0, sizeof(zs_));
    if (inflateInit2(&zs_, 15 + 16) != Z_OK) fail(name(), "zlib inflateInit2 failed");
  }
  ~InflateSource() override { inflateEnd(&zs_); }

  std::size_t read(char* dst, std::size_t n) override {
    if (done_ || n == 0) return 0;
    n = std::min<std::size_t>(n, std::numeric_limits<uInt>::max());
    zs_.next_out = reinterpret_cast<Bytef*>(dst);
    zs_.avail_out = static_cast<uInt>(n);
    while (zs_.avail_out > 0) {
      if (zs_.avail_in == 0) refill();
      if (zs_.avail_in == 0 && in_eof_) fail(name(), "truncated gzip stream (unexpected end of file)");
      const int ret = inflate(&zs_, Z_NO_FLUSH);
      if (ret == Z_STREAM_END) {
        // Another member follows only if the next bytes are a gzip magic number.
        if (zs_.avail_in < 2) refill();
        if (zs_.avail_in >= 2 && zs_.next_in[0] == 0x1f && zs_.next_in[1] == 0x8b) {
          inflateReset(&zs_);
          continue;
        }
        done_ = true;
        break;
      }
      if (ret == Z_BUF_ERROR) continue;  // needs more input: refilled above
      if (ret != Z_OK) {
        fail(name(), std::string("corrupt gzip data: ") + (zs_.msg ? zs_.msg : "zlib error " + std::to_string(ret)));
      }
    }
    return n - zs_.avail_out;
  }
  // Deflate expands at most ~1032x.
  std::uint64_t max_bytes() const override {
    const std::uint64_t m = in_->max_bytes();
    return m > std::numeric_limits<std::uint64_t>::max() / 1032 ? std::numeric_limits<std::uint64_t>::max() : m * 1032;
  }

 private:
  // Moves unread input to the front of the buffer and appends more.
  void refill() {
    if (in_eof_) return;
    if (zs_.avail_in > 0 && zs_.next_in != reinterpret_cast<Bytef*>(buf_.data()))
      std::memmove(buf_.data(), zs_.next_in, zs_.avail_in);
    const std::size_t have = zs_.avail_in;
    const std::size_t got = in_->read(buf_.data() + have, buf_.size() - have);
    if (got == 0) in_eof_ = true;
    zs_.next_in = reinterpret_cast<Bytef*>(buf_.data());
    zs_.avail_in = static_cast<uInt>(have + got);
  }

  std::unique_ptr<ByteSource> in_;
  std::vector<char> buf_;
  z_stream zs_;
  bool in_eof_ = false;
  bool done_ = false;
};

inline bool has_gzip_magic(const unsigned char* p, std::size_t n) { return n >= 2 && p[0] == 0x1f && p[1] == 0x8b; }

// Opens a file, gunzipping it when it starts with the gzip magic number (whatever its name).
inline std::unique_ptr<ByteSource> open_source(const std::string& path) {
  auto f = std::make_unique<FileSource>(path);
  unsigned char magic[2];
  const std::size_t got = f->peek(magic, 2);
  if (has_gzip_magic(magic, got)) return std::make_unique<InflateSource>(std::move(f));
  return f;
}

inline std::unique_ptr<ByteSource> open_memory(std::string_view bytes, const std::string& name) {
  auto m = std::make_unique<MemorySource>(bytes, name);
  if (has_gzip_magic(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()))
    return std::make_unique<InflateSource>(std::move(m));
  return m;
}

}  // namespace data_detail
}  // namespace scvae
