#pragma once
// Buffered text output to a plain or gzipped file, with to_chars number formatting.
#include <zlib.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "byte_source.hpp"

namespace scvae {
namespace data_detail {

class TextWriter {
 public:
  // gzip_level: 0 = plain file, 1..9 = gzip.
  TextWriter(const std::string& path, int gzip_level) : path_(path), buf_(std::size_t{1} << 20) {
    if (gzip_level > 0) {
      const std::string mode = "wb" + std::to_string(std::min(gzip_level, 9));
      gz_ = gzopen(path.c_str(), mode.c_str());
      if (!gz_) fail(path, "cannot create file");
      gzbuffer(gz_, 1 << 20);
    } else {
      f_ = std::fopen(path.c_str(), "wb");
      if (!f_) fail(path, "cannot create file");
    }
  }
  ~TextWriter() {
    try {
      close();
    } catch (...) {
    }
  }
  TextWriter(const TextWriter&) = delete;
  TextWriter& operator=(const TextWriter&) = delete;

  TextWriter& put(std::string_view s) {
    if (n_ + s.size() > buf_.size()) flush();
    if (s.size() > buf_.size()) {
      write_raw(s.data(), s.size());
      return *this;
    }
    std::memcpy(buf_.data() + n_, s.data(), s.size());
    n_ += s.size();
    return *this;
  }
  TextWriter& put(char c) {
    if (n_ == buf_.size()) flush();
    buf_[n_++] = c;
    return *this;
  }
  template <class T>
  TextWriter& num(T v) {
    if (n_ + 64 > buf_.size()) flush();
    const auto r = std::to_chars(buf_.data() + n_, buf_.data() + buf_.size(), v);
    n_ = static_cast<std::size_t>(r.ptr - buf_.data());
    return *this;
  }
  // Writes everything and closes; throws on a write error (disk full).
  void close() {
    if (!f_ && !gz_) return;
    flush();
    if (gz_) {
      const int rc = gzclose(gz_);
      gz_ = nullptr;
      if (rc != Z_OK) fail(path_, "error closing gzip file");
    } else {
      const int rc = std::fclose(f_);
      f_ = nullptr;
      if (rc != 0) fail(path_, "error closing file");
    }
  }

 private:
  void flush() {
    write_raw(buf_.data(), n_);
    n_ = 0;
  }
  void write_raw(const char* p, std::size_t n) {
    if (n == 0) return;
    if (gz_) {
      if (gzwrite(gz_, p, static_cast<unsigned>(n)) != static_cast<int>(n)) fail(path_, "write error");
    } else if (std::fwrite(p, 1, n, f_) != n) {
      fail(path_, "write error");
    }
  }

  std::string path_;
  std::vector<char> buf_;
  std::size_t n_ = 0;
  std::FILE* f_ = nullptr;
  gzFile gz_ = nullptr;
};

}  // namespace data_detail
}  // namespace scvae
