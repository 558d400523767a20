#include "common.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <scvae/core/error.hpp>
#include <scvae/io/detail/atomic_file.hpp>

namespace fs = std::filesystem;

namespace scvae_cli {

namespace {
std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) out.push_back(item);
  if (!text.empty() && text.back() == ',') out.push_back("");
  return out;
}
}  // namespace

bool parse_integer(const std::string& s, long long& v) {
  std::size_t pos = 0;
  try {
    v = std::stoll(s, &pos);
  } catch (const std::exception&) {
    return false;
  }
  return !s.empty() && pos == s.size();
}

bool parse_unsigned(const std::string& s, unsigned long long& v) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return false;  // stoull takes "-1"
  try {
    v = std::stoull(s);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

std::vector<long> parse_int_list(const std::string& text, const std::string& flag) {
  std::vector<long> out;
  for (const auto& s : split_commas(text)) {
    long long v = 0;
    if (!parse_integer(s, v) || v <= 0 || v > std::numeric_limits<long>::max())
      throw UsageError(flag + ": expected a comma-separated list of positive integers, got '" + text + "'");
    out.push_back(static_cast<long>(v));
  }
  if (out.empty()) throw UsageError(flag + ": the list is empty");
  return out;
}

std::vector<double> parse_double_list(const std::string& text, const std::string& flag) {
  std::vector<double> out;
  for (const auto& s : split_commas(text)) {
    std::size_t pos = 0;
    double v = 0;
    try {
      v = std::stod(s, &pos);
    } catch (const std::exception&) {
      pos = std::string::npos;
    }
    if (pos != s.size() || s.empty() || !std::isfinite(v))
      throw UsageError(flag + ": expected a comma-separated list of numbers, got '" + text + "'");
    out.push_back(v);
  }
  if (out.empty()) throw UsageError(flag + ": the list is empty");
  return out;
}

std::string strip_prefix(std::string m) {
  const std::string p = "scvae: ";
  return m.compare(0, p.size(), p) == 0 ? m.substr(p.size()) : m;
}

std::string join_path(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

void prepare_out_dir(const std::string& dir, const std::vector<std::string>& ours, bool overwrite) {
  if (dir.empty()) throw UsageError("--out: an output folder is required");
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw UsageError("--out: '" + dir + "' exists and is not a folder");
  std::vector<std::string> found;
  for (const auto& name : ours)
    if (fs::exists(fs::path(dir) / name, ec)) found.push_back(name);
  if (!found.empty()) {
    if (!overwrite)
      throw UsageError("--out: '" + dir + "' already holds results (" + found.front() +
                       (found.size() > 1 ? ", ..." : "") + "); pass --overwrite to replace them or choose another folder");
    for (const auto& name : found) fs::remove(fs::path(dir) / name, ec);
  }
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir, ec)) throw scvae::Error("cannot create output folder '" + dir + "'");
  // Fail now, not after an hour of training, if the folder is not writable.
  if (::access(dir.c_str(), W_OK) != 0) throw scvae::Error("output folder '" + dir + "' is not writable");
}

void write_text_file(const std::string& path, const std::string& text) {
  scvae::detail::write_file_atomically(path, text.data(), text.size());
}

void write_run_record(const std::string& path, const RunRecord& r) {
  std::string s = "# scvae run record: read by `scvae evaluate` to rebuild the data and its split\n";
  for (const auto& kv : r) s += kv.first + "=" + kv.second + "\n";
  write_text_file(path, s);
}

RunRecord read_run_record(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw scvae::InputError("cannot open run record '" + path + "'");
  RunRecord r;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos)
      throw scvae::InputError(path + ": line " + std::to_string(n) + ": expected key=value, got '" + line + "'");
    r[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return r;
}

std::string format_number(double v, int precision) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

namespace {
std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o;
}
}  // namespace

JsonObject& JsonObject::num(const std::string& key, double v) {
  // JSON has no NaN / infinity: write null so every parser accepts the file.
  items_.emplace_back(key, std::isfinite(v) ? format_number(v, 12) : "null");
  return *this;
}
JsonObject& JsonObject::str(const std::string& key, const std::string& v) {
  items_.emplace_back(key, "\"" + json_escape(v) + "\"");
  return *this;
}
std::string JsonObject::text() const {
  std::string s = "{\n";
  for (std::size_t i = 0; i < items_.size(); ++i)
    s += "  \"" + json_escape(items_[i].first) + "\": " + items_[i].second + (i + 1 < items_.size() ? ",\n" : "\n");
  return s + "}\n";
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long s = std::lround(seconds);
  char b[32];
  if (s >= 3600) std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(b, sizeof b, "%ld:%02ld", s / 60, s % 60);
  return b;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---- Ctrl-C ----------------------------------------------------------------------------------
namespace {
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) {
  g_interrupted = 1;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the program at once
}
}  // namespace

void install_interrupt_handler() { std::signal(SIGINT, on_sigint); }
bool interrupted() { return g_interrupted != 0; }

// ---- progress --------------------------------------------------------------------------------
Progress::Progress(int total_epochs, bool quiet)
    : total_epochs_(total_epochs), tty_(::isatty(STDERR_FILENO) != 0), quiet_(quiet), start_(now_seconds()) {}

void Progress::clear_line() {
  if (drawn_) std::fputs("\r\033[2K", stderr);
  drawn_ = false;
}

void Progress::batch(int epoch, long batch, long batches, double running_elbo) {
  batches_per_epoch_ = batches;
  if (!tty_ || quiet_) return;
  const double t = now_seconds();
  if (batch != batches && t - last_draw_ < 0.1) return;  // redraw at most 10 times a second
  last_draw_ = t;
  const long done = (epoch - 1) * batches + batch, total = long(total_epochs_) * batches;
  const double frac = total > 0 ? double(done) / double(total) : 1.0;
  const double eta = done > 0 ? (t - start_) / double(done) * double(total - done) : NAN;
  const int width = 24, filled = static_cast<int>(frac * width);
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(width, ' ');
  std::fprintf(stderr, "\r\033[2K[%s] %3.0f%%  epoch %d/%d  batch %ld/%ld  ELBO %.2f  ETA %s", bar.c_str(), 100 * frac,
               epoch, total_epochs_, batch, batches, running_elbo, format_duration(eta).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::epoch(int epoch, double train_elbo, double validation_elbo, double seconds, bool best) {
  if (quiet_) return;
  clear_line();
  const double elapsed = now_seconds() - start_;
  const double eta = epoch > 0 ? elapsed / epoch * (total_epochs_ - epoch) : NAN;
  char validation[64] = "";  // no validation cells (NaN): "best" is by the training ELBO
  if (!std::isnan(validation_elbo)) std::snprintf(validation, sizeof validation, "  validation ELBO %10.3f", validation_elbo);
  std::fprintf(stderr, "epoch %*d/%d  train ELBO %10.3f%s%s  %.2f s  ETA %s\n", int(std::to_string(total_epochs_).size()),
               epoch, total_epochs_, train_elbo, validation, best ? " *" : "  ", seconds, format_duration(eta).c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  clear_line();
  std::fflush(stderr);
}

}  // namespace scvae_cli
