#pragma once
// Line-at-a-time reading over a ByteSource with one large buffer: lines are string_views into the
// buffer (valid until the next call), so parsing allocates nothing per line.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "byte_source.hpp"

namespace scvae {
namespace data_detail {

class LineReader {
 public:
  explicit LineReader(std::unique_ptr<ByteSource> src, std::size_t buffer_bytes = std::size_t{4} << 20)
      : src_(std::move(src)),
        // Never larger than the data can be (small inputs, fuzzing), never tiny.
        buf_(static_cast<std::size_t>(std::clamp<std::uint64_t>(src_->max_bytes() + 1, 4096, buffer_bytes))) {}

  // Next line without its "\n" or "\r\n"; false at the end of the data.
  bool next(std::string_view& line) {
    std::size_t scanned = begin_;
    for (;;) {
      const char* base = buf_.data();
      const void* nl = scanned < end_ ? std::memchr(base + scanned, '\n', end_ - scanned) : nullptr;
      if (nl) {
        const std::size_t pos = static_cast<const char*>(nl) - base;
        emit(line, pos);
        begin_ = pos + 1;
        return true;
      }
      if (eof_) {
        if (begin_ == end_) return false;
        emit(line, end_);  // last line without a newline
        begin_ = end_;
        return true;
      }
      scanned = end_;
      if (begin_ > 0) {  // keep the partial line, refill after it
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        scanned -= begin_;
        end_ -= begin_;
        begin_ = 0;
      }
      if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);  // a line longer than the buffer
      const std::size_t got = src_->read(buf_.data() + end_, buf_.size() - end_);
      if (got == 0) eof_ = true;
      end_ += got;
    }
  }

  std::int64_t line_number() const { return line_no_; }
  const std::string& name() const { return src_->name(); }
  const ByteSource& source() const { return *src_; }
  [[noreturn]] void fail_here(const std::string& msg) const { fail(name(), line_no_, msg); }

 private:
  void emit(std::string_view& line, std::size_t stop) {
    std::size_t len = stop - begin_;
    if (len > 0 && buf_[begin_ + len - 1] == '\r') --len;
    line = std::string_view(buf_.data() + begin_, len);
    ++line_no_;
    // A carriage return inside the first line: the file breaks lines with CR alone (classic Mac),
    // which would otherwise read as one long line and fail later with a puzzling message.
    if (line_no_ == 1 && line.find('\r') != std::string_view::npos)
      fail_here("carriage return inside the line: CR-only line endings? Convert them to LF (or CRLF)");
  }

  std::unique_ptr<ByteSource> src_;
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  std::int64_t line_no_ = 0;
};

}  // namespace data_detail
}  // namespace scvae
