#pragma once
// Shared pieces of the `scvae` command-line program: exit codes, errors, output folders, the run
// record (config.txt), small JSON/CSV writers, Ctrl-C handling and the progress display.
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace scvae_cli {

// Exit codes (documented in docs/cli.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,        // anything unexpected (I/O failure while writing, internal error)
  kExitUsage = 2,        // bad flags or values, an --out folder with results and no --overwrite
  kExitInput = 3,        // unreadable or malformed input data, labels or checkpoint
  kExitDiverged = 4,     // training diverged (non-finite loss or gradient); last.ckpt is kept
  kExitInterrupted = 130 // Ctrl-C (128 + SIGINT); last.ckpt holds the last completed epoch
};

// A problem with the command line the parser cannot see (value ranges, combinations, --out).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The whole of s as an integer (no leading/trailing text); false if it is not one.
bool parse_integer(const std::string& s, long long& v);
bool parse_unsigned(const std::string& s, unsigned long long& v);  // digits only
// Parses "250,250" into sizes; `flag` names the option in the error message.
std::vector<long> parse_int_list(const std::string& text, const std::string& flag);
std::vector<double> parse_double_list(const std::string& text, const std::string& flag);

// Output folder handling. A folder that holds any of `ours` (the files a command writes) is
// refused unless overwrite, which removes only those files: the user's other files are kept.
void prepare_out_dir(const std::string& dir, const std::vector<std::string>& ours, bool overwrite);
std::string join_path(const std::string& dir, const std::string& name);
// Library messages start with "scvae: "; the program's own prefix already names it.
std::string strip_prefix(std::string m);

// Writes text atomically (temporary file + rename).
void write_text_file(const std::string& path, const std::string& text);

// The run record: key=value lines, enough for `evaluate` to rebuild the data and its split.
using RunRecord = std::map<std::string, std::string>;
void write_run_record(const std::string& path, const RunRecord& r);
RunRecord read_run_record(const std::string& path);  // throws InputError naming the file

// A flat JSON object of numbers and strings, in insertion order.
class JsonObject {
 public:
  JsonObject& num(const std::string& key, double v);
  JsonObject& str(const std::string& key, const std::string& v);
  std::string text() const;

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

std::string format_number(double v, int precision = 10);  // shortest-ish, "nan" for NaN
std::string format_duration(double seconds);             // "1:05", "12:03:04"

// Ctrl-C: the first SIGINT sets a flag (polled by TrainOptions::should_stop); the second one
// kills the program as usual (checkpoints are written atomically, so nothing is corrupted).
void install_interrupt_handler();
bool interrupted();

// Progress of a training run on stderr: a redrawn bar with ETA and running ELBO on a terminal,
// one plain line per epoch otherwise.
class Progress {
 public:
  explicit Progress(int total_epochs, bool quiet = false);
  void batch(int epoch, long batch, long batches, double running_elbo);
  void epoch(int epoch, double train_elbo, double validation_elbo, double seconds, bool best);
  void finish();

 private:
  void clear_line();
  int total_epochs_;
  bool tty_, quiet_, drawn_ = false;
  double start_;
  long batches_per_epoch_ = 0;
  double last_draw_ = -1;
};

double now_seconds();

}  // namespace scvae_cli
