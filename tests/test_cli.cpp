// End-to-end tests of the `scvae` program (examples/cli): simulate -> train -> evaluate on small
// data, the files and columns they write, well-formed SVG, grid search, Ctrl-C, and the exit
// codes of wrong usage. The binary's path comes from SCVAE_CLI_PATH (tests/cli.cmake).
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <scvae/core/system.hpp>
#include <scvae/data/h5ad_writer.hpp>
#include <scvae/data/read_counts.hpp>
#include <scvae/io/checkpoint.hpp>

namespace fs = std::filesystem;

namespace {

const std::string kTmp = std::string(SCVAE_TEST_TMP_DIR) + "/cli";

struct Run {
  int rc = -1;
  std::string out;  // stdout + stderr
};

// Runs `scvae <args>` through the shell, capturing its output; `env` prefixes the command
// (e.g. "env -u OMP_WAIT_POLICY").
Run run_scvae(const std::string& args, const std::string& env = "") {
  fs::create_directories(kTmp);
  const std::string log = kTmp + "/last_output.txt";
  const std::string cmd = env + " '" + SCVAE_CLI_PATH + "' " + args + " > '" + log + "' 2>&1";
  const int status = std::system(cmd.c_str());
  Run r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  r.out = ss.str();
  return r;
}

// A file's text, "" when it cannot be opened (yet).
std::string text_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
std::string slurp(const std::string& path) {
  REQUIRE(std::ifstream(path, std::ios::binary).good());
  return text_of(path);
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> v;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

std::size_t count_fields(const std::string& line, char sep) {
  return static_cast<std::size_t>(std::count(line.begin(), line.end(), sep)) + 1;
}

// Minimal XML well-formedness: every element closes in order, one root <svg>, nothing after it.
bool well_formed_svg(const std::string& s, std::string& why) {
  std::vector<std::string> stack;
  std::size_t i = 0;
  bool root_seen = false;
  while ((i = s.find('<', i)) != std::string::npos) {
    if (s.compare(i, 4, "<!--") == 0) {
      i = s.find("-->", i);
      if (i == std::string::npos) return why = "unterminated comment", false;
      continue;
    }
    const std::size_t end = s.find('>', i);
    if (end == std::string::npos) return why = "unterminated tag", false;
    const std::string tag = s.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) return why = "empty tag", false;
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) return why = "mismatched </" + name + ">", false;
      stack.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (stack.empty()) {
      if (root_seen) return why = "more than one root element", false;
      if (name != "svg") return why = "root element is <" + name + ">", false;
      root_seen = true;
    }
    if (tag.back() != '/') stack.push_back(name);
  }
  if (!root_seen) return why = "no <svg> element", false;
  if (!stack.empty()) return why = "unclosed <" + stack.back() + ">", false;
  return true;
}

void check_svg(const std::string& path) {
  INFO(path);
  REQUIRE(fs::exists(path));
  std::string why;
  CHECK(well_formed_svg(slurp(path), why));
  INFO(why);
}

void check_json_keys(const std::string& path, const std::vector<std::string>& keys) {
  const std::string j = slurp(path);
  CHECK(j.front() == '{');
  CHECK(j.find('}') != std::string::npos);
  for (const auto& k : keys) {
    INFO(path << " key " << k);
    CHECK(j.find("\"" + k + "\":") != std::string::npos);
  }
}

// Simulated input shared by the tests (written once).
const std::string& simulated() {
  static const std::string dir = [] {
    const std::string d = kTmp + "/sim";
    const Run r = run_scvae("simulate --cells 300 --genes 60 --clusters 3 --seed 2 --overwrite --out '" + d + "'");
    INFO(r.out);
    REQUIRE(r.rc == 0);
    return d;
  }();
  return dir;
}

const char* kSmallModel = " --hidden 16 --latent 4 --components 3 --batch-size 50 --learning-rate 1e-2 --importance-samples 4 ";

}  // namespace

TEST_CASE("scvae simulate writes a gzipped 10x v3 folder and labels.tsv", "[cli]") {
  const std::string d = simulated();
  for (const char* f : {"matrix.mtx.gz", "features.tsv.gz", "barcodes.tsv.gz", "labels.tsv"}) CHECK(fs::exists(d + "/" + f));
  const auto labels = lines_of(d + "/labels.tsv");
  REQUIRE(labels.size() == 301);
  CHECK(labels[0] == "cell\tlabel");
  CHECK(count_fields(labels[1], '\t') == 2);
}

TEST_CASE("scvae train -> evaluate on simulated input writes every documented output", "[cli]") {
  const std::string out = kTmp + "/train_gmvae";
  fs::remove_all(out);
  const Run r = run_scvae("train --input '" + simulated() + "' --labels '" + simulated() + "/labels.tsv:label'" + kSmallModel +
                      " --model gmvae --likelihood nb --epochs 3 --seed 1 --threads 1 --out '" + out + "'");
  INFO(r.out);
  REQUIRE(r.rc == 0);

  const auto metrics = lines_of(out + "/metrics.csv");
  REQUIRE(metrics.size() == 1 + 3 * 2);
  CHECK(metrics[0] == "epoch,split,elbo,log_likelihood,kl,seconds");
  CHECK(metrics[1].rfind("1,train,", 0) == 0);
  CHECK(metrics[2].rfind("1,validation,", 0) == 0);
  for (std::size_t i = 1; i < metrics.size(); ++i) CHECK(count_fields(metrics[i], ',') == 6);

  check_json_keys(out + "/test_metrics.json",
                  {"elbo", "log_likelihood", "kl", "marginal_log_likelihood", "n_cells", "ari", "nmi"});
  CHECK(slurp(out + "/test_metrics.json").find("\"n_cells\": 30") != std::string::npos);  // 10% of 300

  const auto latent = lines_of(out + "/latent.tsv");
  REQUIRE(latent.size() == 301);
  CHECK(latent[0] == "cell\tz1\tz2\tz3\tz4");
  CHECK(count_fields(latent[1], '\t') == 5);
  const auto clusters = lines_of(out + "/clusters.tsv");
  REQUIRE(clusters.size() == 301);
  CHECK(clusters[0] == "cell\tcluster\tresponsibility");
  const auto rec = lines_of(out + "/reconstruction.tsv");
  REQUIRE(rec.size() >= 2);
  CHECK(rec[0] == "gene\tobserved_mean\treconstructed_mean\tobserved_variance\treconstructed_variance");

  for (const char* f : {"learning_curve_elbo.svg", "learning_curve_log_likelihood.svg", "learning_curve_kl.svg",
                        "latent_pca.svg", "latent_pca_labels.svg", "reconstruction_mean.svg"})
    check_svg(out + "/" + f);
  for (const char* f : {"best.ckpt", "last.ckpt"}) {
    const auto c = scvae::read_checkpoint(out + "/" + f);
    CHECK(c.kind == "gmvae");
  }

  // evaluate: model kind from the checkpoint, data and split from config.txt.
  const std::string ev = kTmp + "/evaluate_gmvae";
  fs::remove_all(ev);
  const Run e = run_scvae("evaluate --checkpoint '" + out + "/best.ckpt' --importance-samples 3 --threads 1 --out '" + ev + "'");
  INFO(e.out);
  REQUIRE(e.rc == 0);
  check_json_keys(ev + "/test_metrics.json",
                  {"elbo", "log_likelihood", "kl", "marginal_log_likelihood", "n_cells", "ari", "nmi"});
  CHECK(lines_of(ev + "/latent.tsv").size() == 31);
  check_svg(ev + "/latent_pca.svg");

  // The same folder again is refused without --overwrite, and nothing is touched.
  const std::string before = slurp(out + "/metrics.csv");
  const Run again = run_scvae("train --input '" + simulated() + "'" + kSmallModel + " --epochs 1 --out '" + out + "'");
  CHECK(again.rc == 2);
  CHECK(again.out.find("--overwrite") != std::string::npos);
  CHECK(slurp(out + "/metrics.csv") == before);
}

TEST_CASE("scvae train: VAE on the built-in data, clustered by k-means; evaluate without --input", "[cli]") {
  const std::string out = kTmp + "/train_vae_builtin";
  const Run r = run_scvae("train --model vae --likelihood poisson --hidden 16 --latent 4 --epochs 2 --importance-samples 2 "
                      "--threads 1 --overwrite --quiet --out '" + out + "'");
  INFO(r.out);
  REQUIRE(r.rc == 0);
  check_json_keys(out + "/test_metrics.json", {"ari", "nmi", "cluster_method"});
  CHECK(slurp(out + "/test_metrics.json").find("kmeans_latent") != std::string::npos);
  CHECK(lines_of(out + "/clusters.tsv").at(0) == "cell\tcluster");
  CHECK(slurp(out + "/config.txt").find("input=builtin:small") != std::string::npos);
  const std::string ev = kTmp + "/evaluate_vae_builtin";
  const Run e = run_scvae("evaluate --checkpoint '" + out + "/last.ckpt' --importance-samples 0 --overwrite --out '" + ev + "'");
  INFO(e.out);
  REQUIRE(e.rc == 0);
  CHECK(slurp(ev + "/test_metrics.json").find("\"n_cells\": 200") != std::string::npos);
}

TEST_CASE("scvae train --early-stopping ends a run that stops improving; best.ckpt keeps the best epoch", "[cli]") {
  // A learning rate of 1e-30 leaves the weights as they are; only BatchNorm's running statistics
  // move the validation ELBO, so it stops improving within a few epochs.
  const std::string out = kTmp + "/early_stopping";
  const Run r = run_scvae("train --model vae --likelihood poisson --hidden 16 --latent 4 --epochs 40 --early-stopping 2 "
                          "--learning-rate 1e-30 --importance-samples 0 --threads 1 --overwrite --out '" + out + "'");
  INFO(r.out);
  REQUIRE(r.rc == 0);
  const auto at = r.out.find("stopped early after epoch ");
  REQUIRE(at != std::string::npos);
  const int last = std::atoi(r.out.c_str() + at + 26);
  CHECK(last >= 3);
  CHECK(last < 40);
  CHECK(r.out.find("no better validation ELBO for 2 epoch(s); best epoch " + std::to_string(last - 2)) != std::string::npos);
  CHECK(r.out.find("best epoch " + std::to_string(last - 2) + " of " + std::to_string(last)) != std::string::npos);
  const Run bad = run_scvae("train --early-stopping -1 --overwrite --out '" + out + "'");
  CHECK(bad.rc == 2);
  CHECK(bad.out.find("--early-stopping") != std::string::npos);
}

TEST_CASE("scvae reader flags reach the reader, are recorded for evaluate, and are refused where they do not apply",
          "[cli]") {
  // The simulated matrix.mtx.gz read the other way round: 60 cells x 300 genes. evaluate must
  // read it the same way from config.txt, or the checkpoint's gene count would not match.
  const std::string mtx = simulated() + "/matrix.mtx.gz";
  const std::string out = kTmp + "/reader_flags";
  const Run r = run_scvae("train --input '" + mtx + "' --orientation cells-by-genes --model vae --likelihood poisson "
                          "--hidden 8 --latent 2 --epochs 1 --importance-samples 0 --threads 1 --overwrite --quiet --out '" +
                          out + "'");
  INFO(r.out);
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("(60 cells x ") != std::string::npos);
  CHECK(slurp(out + "/config.txt").find("orientation=cells-by-genes\n") != std::string::npos);
  const Run e = run_scvae("evaluate --checkpoint '" + out + "/best.ckpt' --importance-samples 0 --threads 1 --overwrite "
                          "--out '" + out + "/ev'");
  INFO(e.out);
  CHECK(e.rc == 0);
  CHECK(e.out.find("(60 cells x ") != std::string::npos);
  // --input drops the recorded reader options: the default orientation gives 300 cells of 60
  // genes, which the checkpoint (300 genes) refuses.
  const Run other = run_scvae("evaluate --checkpoint '" + out + "/best.ckpt' --input '" + mtx +
                              "' --importance-samples 0 --threads 1 --overwrite --out '" + out + "/ev2'");
  CHECK(other.rc == 3);
  CHECK(other.out.find("(300 cells x ") != std::string::npos);

  // --matrix reaches the .h5ad reader: an absent matrix is named.
  const std::string h5ad = kTmp + "/reader_flags.h5ad";
  scvae::write_h5ad(h5ad, scvae::read_counts(simulated()));
  const Run missing = run_scvae("train --input '" + h5ad + "' --matrix raw/X --epochs 1 --overwrite --out '" + out + "'");
  INFO(missing.out);
  CHECK(missing.rc == 3);
  CHECK(missing.out.find("raw/X") != std::string::npos);
  {  // labels from an obs column of the same file
    namespace h5 = scvae::data_detail::h5;
    h5::Handle f(H5Fopen(h5ad.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    REQUIRE(f);
    h5::Handle obs(H5Gopen2(f.get(), "obs", H5P_DEFAULT), H5Gclose);
    std::vector<std::string> group;
    for (int i = 0; i < 300; ++i) group.push_back(i % 3 == 0 ? "a" : "b");
    h5::write_strings(obs.get(), "group", group);
  }
  const Run x = run_scvae("train --input '" + h5ad + "' --matrix X --labels '" + h5ad + ":group' --model vae --likelihood "
                          "poisson --hidden 8 --latent 2 --epochs 1 --importance-samples 0 --threads 1 --overwrite --quiet "
                          "--out '" + out + "'");
  INFO(x.out);
  CHECK(x.rc == 0);
  CHECK(x.out.find("vs labels: ARI") != std::string::npos);
  {  // evaluate --input stands in for a recorded input that is gone: the record's reader options
     // are checked by value only, never against the recorded file
    const std::string gone = kTmp + "/reader_flags_gone.h5ad", out_gone = out + "_gone";
    fs::copy_file(h5ad, gone, fs::copy_options::overwrite_existing);
    const Run t = run_scvae("train --input '" + gone + "' --matrix X --model vae --likelihood poisson --hidden 8 "
                            "--latent 2 --epochs 1 --importance-samples 0 --threads 1 --overwrite --quiet --out '" +
                            out_gone + "'");
    INFO(t.out);
    REQUIRE(t.rc == 0);
    fs::remove(gone);
    const Run ev = run_scvae("evaluate --checkpoint '" + out_gone + "/best.ckpt' --input '" + h5ad +
                             "' --matrix X --importance-samples 0 --threads 1 --overwrite --out '" + out_gone + "/ev'");
    INFO(ev.out);
    CHECK(ev.rc == 0);
  }
  const Run nocol = run_scvae("train --input '" + h5ad + "' --labels '" + h5ad + "' --epochs 1 --overwrite --out '" + out + "'");
  CHECK(nocol.rc == 3);
  CHECK(nocol.out.find("name an obs column (columns: group)") != std::string::npos);

  // A tarred 10x folder takes the 10x flags; --genome picks its folder.
  const std::string tgz = kTmp + "/reader_flags_sim.tar.gz";
  fs::remove(tgz);
  if (std::system(("tar czf '" + tgz + "' -C '" + kTmp + "' sim 2>/dev/null").c_str()) == 0) {
    const Run t = run_scvae("train --input '" + tgz + "' --gene-names symbol --genome sim --model vae --likelihood "
                            "poisson --hidden 8 --latent 2 --epochs 1 --importance-samples 0 --threads 1 --overwrite "
                            "--quiet --out '" + out + "'");
    INFO(t.out);
    CHECK(t.rc == 0);
    CHECK(t.out.find("(300 cells x ") != std::string::npos);
    const Run g = run_scvae("train --input '" + tgz + "' --genome hg19 --epochs 1 --overwrite --out '" + out + "'");
    INFO(g.out);
    CHECK(g.rc == 3);
    CHECK(g.out.find("sim") != std::string::npos);
  } else {
    WARN("no tar program: the archive part of this test is skipped");
  }

  // Refused before reading: an option the format lacks, an unknown value, an option without --input.
  for (const auto& [args, needle] : std::vector<std::pair<std::string, std::string>>{
           {"--input '" + simulated() + "' --matrix X", "--matrix applies to .h5ad and .loom input"},
           {"--input '" + h5ad + "' --orientation cells-by-genes", "--orientation applies to .mtx and dense table input"},
           {"--input '" + mtx + "' --genome mm10", "--genome applies to 10x .h5 and .tar[.gz] input"},
           {"--input '" + mtx + "' --orientation sideways", "--orientation"},
           {"--gene-names symbol", "need --input"}}) {
    const Run bad = run_scvae("train " + args + " --overwrite --out '" + out + "'");
    INFO(args << "\n" << bad.out);
    CHECK(bad.rc == 2);
    CHECK(bad.out.find(needle) != std::string::npos);
  }
}

TEST_CASE("scvae --min-counts drops cells before the split; evaluate drops the same ones", "[cli]") {
  const scvae::CsrMatrix m = scvae::read_counts(simulated());
  long keep = 0;
  for (scvae::Index r = 0; r < m.n_rows; ++r) {
    double total = 0;
    for (auto k = m.indptr[r]; k < m.indptr[r + 1]; ++k) total += m.values[k];
    keep += total >= 1000;
  }
  REQUIRE(keep > 10);
  REQUIRE(keep < m.n_rows);
  const std::string out = kTmp + "/min_counts";
  const Run r = run_scvae("train --input '" + simulated() + "' --min-counts 1000 --labels '" + simulated() +
                          "/labels.tsv:label' --model vae --likelihood poisson --hidden 8 --latent 2 --epochs 1 "
                          "--importance-samples 0 --threads 1 --overwrite --quiet --out '" + out + "'");
  INFO(r.out);
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("dropped " + std::to_string(m.n_rows - keep) + " of 300 cells with fewer than 1000 counts") !=
        std::string::npos);
  CHECK(lines_of(out + "/latent.tsv").size() == static_cast<std::size_t>(keep) + 1);
  CHECK(slurp(out + "/config.txt").find("min_counts=1000\n") != std::string::npos);
  const Run e = run_scvae("evaluate --checkpoint '" + out + "/best.ckpt' --all-cells --importance-samples 0 --threads 1 "
                          "--overwrite --out '" + out + "/ev'");
  INFO(e.out);
  CHECK(e.rc == 0);
  CHECK(lines_of(out + "/ev/latent.tsv").size() == static_cast<std::size_t>(keep) + 1);
  const Run none = run_scvae("train --input '" + simulated() + "' --min-counts 100000000 --overwrite --out '" + out + "'");
  CHECK(none.rc == 3);
  CHECK(none.out.find("0 of 300 cells have at least --min-counts 100000000 counts") != std::string::npos);
  const Run neg = run_scvae("train --min-counts -1 --overwrite --out '" + out + "'");
  CHECK(neg.rc == 2);
  CHECK(neg.out.find("--min-counts: must be >= 0") != std::string::npos);
}

TEST_CASE("scvae train --mean library, --dropout(-encoder-only), --batch-norm-scale, --adam-eps: evaluate rebuilds the model",
          "[cli]") {
  const std::string out = kTmp + "/mean_library";
  const Run r = run_scvae("train --input '" + simulated() + "' --mean library --dropout 0.1 --dropout-encoder-only "
                          "--batch-norm-scale --adam-eps 0.01 --model vae --likelihood nb --dispersion gene --hidden 8 "
                          "--latent 2 --epochs 2 --importance-samples 0 --threads 1 --overwrite --out '" + out + "'");
  INFO(r.out);
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("mean = library x softmax, dropout 0.1 (encoders only), BatchNorm with scale") != std::string::npos);
  CHECK(r.out.find("Adam eps 0.01") != std::string::npos);
  CHECK(slurp(out + "/config.txt").find("mean=library\n") != std::string::npos);
  const auto at = r.out.find("test ELBO ");
  REQUIRE(at != std::string::npos);
  const std::string elbo = r.out.substr(at + 10, r.out.find(' ', at + 10) - at - 10);
  const Run e = run_scvae("evaluate --checkpoint '" + out + "/best.ckpt' --importance-samples 0 --threads 1 --overwrite "
                          "--out '" + out + "/ev'");
  INFO(e.out);
  REQUIRE(e.rc == 0);
  CHECK(e.out.find("ELBO " + elbo + " ") != std::string::npos);  // the same model and cells as train's evaluation
  const Run bad = run_scvae("train --mean softmax --overwrite --out '" + out + "'");
  CHECK(bad.rc == 2);
  CHECK(bad.out.find("--mean") != std::string::npos);
  const Run bad_dropout = run_scvae("train --dropout 1 --overwrite --out '" + out + "'");
  CHECK(bad_dropout.rc == 2);
  CHECK(bad_dropout.out.find("--dropout: must be in [0, 1)") != std::string::npos);
  const Run bad_eps = run_scvae("train --adam-eps 0 --overwrite --out '" + out + "'");
  CHECK(bad_eps.rc == 2);
  CHECK(bad_eps.out.find("--adam-eps: must be positive") != std::string::npos);
}

TEST_CASE("scvae grid-search ranks the grid by validation ELBO", "[cli]") {
  const std::string out = kTmp + "/grid";
  const Run r = run_scvae("grid-search --input '" + simulated() + "' --model vae --hidden-grid '8;8,8' --latent-grid 2 "
                      "--likelihoods poisson,nb --batch-size 50 --threads 1 --overwrite --out '" + out + "'");
  INFO(r.out);
  REQUIRE(r.rc == 0);
  const auto rows = lines_of(out + "/grid.csv");
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].rfind("rank,model,likelihood,hidden,latent,components,epochs,train_elbo,validation_elbo", 0) == 0);
  std::vector<double> elbo;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    std::vector<std::string> f;
    std::stringstream ss(rows[i]);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    REQUIRE(f.size() == 15);
    elbo.push_back(std::stod(f[8]));
    CHECK(f[13] == "gene-cell");  // the run's dispersion and mean, for comparing tables of runs
    CHECK(f[14] == "free");
  }
  CHECK(std::is_sorted(elbo.rbegin(), elbo.rend()));

  // Every configuration diverging is a failure (exit 4), the table still written.
  const Run d = run_scvae("grid-search --input '" + simulated() + "' --model vae --hidden-grid 8 --latent-grid 2 "
                          "--likelihoods poisson,nb --dispersion gene --mean library --batch-size 50 --learning-rate 1e10 "
                          "--threads 1 --overwrite --out '" + out + "'");
  INFO(d.out);
  CHECK(d.rc == 4);
  CHECK(d.out.find("every configuration diverged") != std::string::npos);
  const auto diverged = lines_of(out + "/grid.csv");
  REQUIRE(diverged.size() == 3);
  CHECK(diverged[1].substr(diverged[1].size() - std::string(",diverged,gene,library").size()) == ",diverged,gene,library");
}

TEST_CASE("scvae grid-search refuses a configuration no machine holds before training any", "[cli]") {
  const std::string out = kTmp + "/grid_too_big";
  const Run r = run_scvae("grid-search --input '" + simulated() + "' --model vae --hidden-grid 8 --latent-grid 2,100000000 "
                          "--likelihoods poisson --batch-size 50 --threads 1 --overwrite --out '" + out + "'");
  INFO(r.out);
  CHECK(r.rc == 2);
  CHECK(r.out.find("lower --hidden, --latent") != std::string::npos);
  CHECK(r.out.find("[1/2]") == std::string::npos);  // the small configuration was not trained first
  CHECK_FALSE(fs::exists(out + "/grid.csv"));
}

TEST_CASE("scvae re-executes itself for passive OpenMP waits without changing what it does", "[cli]") {
  // CTest sets OMP_WAIT_POLICY for every test; here it is unset, so the program takes the path
  // that sets it and re-executes itself (examples/cli/main.cpp).
  const std::string out = kTmp + "/reexec_sim";
  const Run r = run_scvae("simulate --cells 40 --genes 30 --clusters 2 --overwrite --out '" + out + "'",
                          "env -u OMP_WAIT_POLICY");
  INFO(r.out);
  CHECK(r.rc == 0);
  CHECK(fs::exists(out + "/matrix.mtx.gz"));
  const Run bad = run_scvae("simulate --cells", "env -u OMP_WAIT_POLICY");
  CHECK(bad.rc == 2);
  const Run help = run_scvae("--help", "env -u OMP_WAIT_POLICY");
  CHECK(help.rc == 0);
  CHECK(help.out.find("train") != std::string::npos);
}

TEST_CASE("scvae train --device cuda: trains on the GPU, or refuses clearly before writing anything", "[cli][cuda]") {
  const std::string out = kTmp + "/train_cuda";
  fs::remove_all(out);
  fs::remove_all(out + "_mix");
  const Run r = run_scvae("train --device cuda --model vae --likelihood nb --hidden 16 --latent 4 --epochs 2 "
                          "--importance-samples 2 --quiet --out '" + out + "'");
  INFO(r.out);
#ifndef SCVAE_CLI_HAS_CUDA
  CHECK(r.rc == 2);
  CHECK(r.out.find("no CUDA backend") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
#else
  if (r.rc == 2 && r.out.find("no usable CUDA device") != std::string::npos) {
    WARN("SKIPPED: no CUDA device; checked that --device cuda refuses before creating " << out);
    CHECK_FALSE(fs::exists(out));
  } else {
    // Trained on the GPU; the checkpoints are the CPU's format, so evaluate (on the CPU) loads them.
    REQUIRE(r.rc == 0);
    check_json_keys(out + "/test_metrics.json", {"elbo", "log_likelihood", "marginal_log_likelihood"});
    CHECK(lines_of(out + "/metrics.csv").size() == 5);  // header + 2 epochs x (train, validation)
    const std::string ev = kTmp + "/evaluate_cuda";
    const Run e = run_scvae("evaluate --checkpoint '" + out + "/best.ckpt' --importance-samples 2 --overwrite --out '" +
                            ev + "'");
    INFO(e.out);
    CHECK(e.rc == 0);
    // The GMVAE's mixture re-initialisation gathers its batches on the device.
    const Run m = run_scvae("train --device cuda --model gmvae --mixture-init 1 --epochs 2 --quiet --out '" + out +
                            "_mix'");
    INFO(m.out);
    CHECK(m.rc == 0);
  }
#endif
}

TEST_CASE("scvae: wrong usage gives clear messages and exit codes", "[cli]") {
  for (const char* cmd : {"", "train", "evaluate", "grid-search", "simulate"}) {
    const Run h = run_scvae(std::string(cmd) + " --help");
    INFO(cmd << ": " << h.out);
    CHECK(h.rc == 0);
    CHECK(h.out.find("--") != std::string::npos);
  }
  const std::string out = kTmp + "/errors";
  Run r = run_scvae("train --no-such-flag --out '" + out + "'");
  CHECK(r.rc == 2);
  CHECK(r.out.find("no-such-flag") != std::string::npos);

  r = run_scvae("train --likelihood gaussian --out '" + out + "'");
  CHECK(r.rc == 2);
  CHECK(r.out.find("--likelihood") != std::string::npos);

  r = run_scvae("train --input '" + kTmp + "/does_not_exist.h5ad' --overwrite --out '" + out + "'");
  CHECK(r.rc == 3);
  CHECK(r.out.find("does_not_exist.h5ad") != std::string::npos);

  r = run_scvae("train --hidden 10,x --overwrite --out '" + out + "'");
  CHECK(r.rc == 2);
  CHECK(r.out.find("--hidden") != std::string::npos);

  r = run_scvae("train --device cuda --overwrite --out '" + out + "'");
  CHECK(r.rc == 2);
  CHECK(r.out.find("CUDA") != std::string::npos);

  r = run_scvae("train --out");  // --out needs a value
  CHECK(r.rc == 2);

  r = run_scvae("train --seed -1 --overwrite --out '" + out + "'");  // not 2^64 - 1
  CHECK(r.rc == 2);
  CHECK(r.out.find("--seed: must be a non-negative integer") != std::string::npos);

  r = run_scvae("evaluate --checkpoint '" + kTmp + "/missing.ckpt' --out '" + out + "'");
  CHECK(r.rc == 3);
  CHECK(r.out.find("missing.ckpt") != std::string::npos);
  r = run_scvae("evaluate --checkpoint '" + kTmp + "' --out '" + out + "'");  // the run folder, not its file
  CHECK(r.rc == 3);
  CHECK(r.out.find("best.ckpt or last.ckpt") != std::string::npos);

  // A file that is not a checkpoint.
  fs::create_directories(kTmp);
  std::ofstream(kTmp + "/junk.ckpt") << "not a checkpoint";
  r = run_scvae("evaluate --checkpoint '" + kTmp + "/junk.ckpt' --input '" + simulated() + "' --overwrite --out '" + out + "'");
  CHECK(r.rc == 3);
  CHECK(r.out.find("junk.ckpt") != std::string::npos);

  r = run_scvae("train --labels '" + kTmp + "/no_labels.tsv' --overwrite --out '" + out + "'");
  CHECK(r.rc == 3);
  CHECK(r.out.find("no_labels.tsv") != std::string::npos);
}

TEST_CASE("scvae: sizes past the machine, no validation cells, bad records and early divergence are reported clearly",
          "[cli]") {
  const std::string out = kTmp + "/edges";
  fs::remove_all(out);
  // --threads far past any machine (libgomp crashed at 70,000).
  Run r = run_scvae("train --threads 70000 --out '" + out + "'");
  INFO(r.out);
  CHECK(r.rc == 2);
  CHECK(r.out.find("--threads") != std::string::npos);
  r = run_scvae("evaluate --checkpoint x.ckpt --threads 70000 --out '" + out + "'");
  CHECK(r.rc == 2);

  // A 70-byte header declaring 2^31 - 1 cells: refused before their 34 GB of row offsets.
  const std::string tiny = kTmp + "/tiny.mtx";
  std::ofstream(tiny) << "%%MatrixMarket matrix coordinate integer general\n1 2147483647 1\n1 1 5\n";
  if (scvae::physical_memory_bytes() < 16.0 * 2147483647.0) {
    r = run_scvae("train --input '" + tiny + "' --overwrite --out '" + out + "'");
    INFO(r.out);
    CHECK(r.rc == 3);
    CHECK(r.out.find("tiny.mtx:2: declares 2147483647 cells") != std::string::npos);
  } else {
    WARN("SKIPPED the 2^31-cell header: this machine has 34 GB or more, so it would be read");
  }

  // Models no machine holds: refused with the options to lower, not std::bad_alloc or the OOM killer.
  r = run_scvae("train --input '" + simulated() + "' --latent 100000000 --overwrite --out '" + out + "'");
  INFO(r.out);
  CHECK(r.rc == 2);
  CHECK(r.out.find("lower --hidden, --latent") != std::string::npos);

  // No validation cells: no "validation ELBO nan"; best by the training ELBO, and said so.
  r = run_scvae("train --input '" + simulated() + "'" + kSmallModel + "--split 1,0,0 --epochs 2 --overwrite --out '" + out + "'");
  INFO(r.out);
  CHECK(r.rc == 0);
  CHECK(r.out.find("no validation cells") != std::string::npos);
  CHECK(r.out.find("nan") == std::string::npos);

  // Diverging in the first epoch: no claim of a last.ckpt that was never written.
  r = run_scvae("train --input '" + simulated() + "' --hidden 16 --latent 4 --components 3 --batch-size 50 "
                "--learning-rate 1e10 --epochs 2 --quiet --overwrite --out '" + out + "'");
  INFO(r.out);
  CHECK(r.rc == 4);
  CHECK(r.out.find("last.ckpt") == std::string::npos);
  CHECK(r.out.find("no epoch completed") != std::string::npos);
  CHECK(r.out.find("error: scvae:") == std::string::npos);

  // evaluate from another directory: the labels' path is recorded absolute, like the input's.
  const std::string run = kTmp + "/edges_run";
  fs::remove_all(run);
  const std::string rel = fs::relative(simulated() + "/labels.tsv", kTmp).string() + ":label";
  r = run_scvae("train --input '" + simulated() + "' --labels '" + rel + "'" + kSmallModel + "--epochs 1 --quiet --out '" +
                run + "'", "cd '" + kTmp + "' &&");
  INFO(r.out);
  REQUIRE(r.rc == 0);
  r = run_scvae("evaluate --checkpoint '" + run + "/best.ckpt' --importance-samples 2 --overwrite --out '" + out + "'",
                "cd / &&");
  INFO(r.out);
  CHECK(r.rc == 0);

  // config.txt values that do not parse or check: the file's fault (exit 3), named.
  const std::string bad = kTmp + "/edges_bad";
  for (const char* kv : {"top_genes=abc", "split=0.5,0.5,0.5", "top_genes=-3", "split_seed=-1"}) {
    fs::remove_all(bad);
    fs::create_directories(bad);
    fs::copy_file(run + "/best.ckpt", bad + "/best.ckpt");
    const std::string key = std::string(kv).substr(0, std::string(kv).find('='));
    std::ofstream cfg(bad + "/config.txt");
    for (const auto& line : lines_of(run + "/config.txt")) cfg << (line.rfind(key + "=", 0) == 0 ? std::string(kv) : line) << "\n";
    cfg.close();
    r = run_scvae("evaluate --checkpoint '" + bad + "/best.ckpt' --overwrite --out '" + out + "'");
    INFO(kv << ": " << r.out);
    CHECK(r.rc == 3);
    CHECK(r.out.find("config.txt") != std::string::npos);
  }
  // ...while every uint64 seed (--seed takes them all) reads back.
  {
    std::ofstream cfg(bad + "/config.txt");
    for (const auto& line : lines_of(run + "/config.txt"))
      cfg << (line.rfind("split_seed=", 0) == 0 ? std::string("split_seed=18446744073709551615") : line) << "\n";
  }
  r = run_scvae("evaluate --checkpoint '" + bad + "/best.ckpt' --importance-samples 2 --overwrite --out '" + out + "'");
  INFO(r.out);
  CHECK(r.rc == 0);
}

// Runs scvae with `args` (stderr to `log`), sends it SIGINT once `ready()` holds (checked every
// 50 ms, for up to a minute), and waits. Returns the wait status; `started` says whether ready()
// held before the SIGINT.
int run_and_interrupt(std::vector<std::string> args, const std::string& log, const std::function<bool()>& ready,
                      bool& started) {
  std::vector<char*> argv{const_cast<char*>("scvae")};
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  fs::remove(log);  // a previous run's log must not make ready() true before this one starts
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    freopen(log.c_str(), "w", stderr);
    freopen("/dev/null", "w", stdout);
    execv(SCVAE_CLI_PATH, argv.data());
    _exit(127);
  }
  const auto t0 = std::chrono::steady_clock::now();
  while (!ready() && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  started = ready();
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}
// "killed by signal N; log: ..." for a failing check's message.
std::string killed_and_log(int status, const std::string& log) {
  return "killed by signal " + std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0) + "; log:\n" + text_of(log);
}

TEST_CASE("scvae train: Ctrl-C stops after the current batch, keeps last.ckpt, exits 130", "[cli]") {
  const std::string out = kTmp + "/interrupted", log = kTmp + "/interrupted.log";
  fs::remove_all(out);
  bool started = false;
  const int status = run_and_interrupt(
      {"train", "--hidden", "16", "--latent", "4", "--epochs", "100000", "--threads", "1", "--out", out}, log,
      [&] { return fs::exists(out + "/last.ckpt"); }, started);
  REQUIRE(started);
  INFO(killed_and_log(status, log));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(scvae::read_checkpoint(out + "/last.ckpt").kind == "gmvae");  // intact (CRC checked)
  CHECK(lines_of(out + "/metrics.csv").size() >= 3);
  CHECK(!fs::exists(out + "/test_metrics.json"));
  CHECK(slurp(log).find("interrupted") != std::string::npos);
}

TEST_CASE("scvae grid-search: Ctrl-C stops in the current configuration, writes the table of those done, exits 130",
          "[cli]") {
  const std::string out = kTmp + "/grid_interrupted", log = kTmp + "/grid_interrupted.log";
  fs::remove_all(out);
  bool started = false;
  const int status = run_and_interrupt({"grid-search", "--hidden-grid", "16;16,16;32;32,32", "--latent-grid", "2,4",
                                        "--likelihoods", "poisson,nb", "--epochs", "100000", "--threads", "1", "--out", out},
                                       log, [&] { return text_of(log).find("[1/16]") != std::string::npos; }, started);
  REQUIRE(started);
  const std::string text = slurp(log);
  INFO(killed_and_log(status, log));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(text.find("interrupted\nscvae grid-search: interrupted (Ctrl-C) after 0 of 16 configurations") != std::string::npos);
  CHECK(lines_of(out + "/grid.csv").size() == 1);  // the header: no configuration finished
}
