// scvae: train, evaluate, grid-search and simulate from the command line (docs/cli.md).
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>
#if defined(__linux__)
#include <unistd.h>
#endif

#include <CLI/CLI.hpp>

#include <scvae/core/error.hpp>

#include "commands.hpp"

#include "common.hpp"

namespace {

// OpenMP threads that spin while they wait (libgomp's default) burn the time slices of every
// other busy process: two trainings sharing 2 cores ran 1.5x slower per epoch than with passive
// waits, which cost nothing when alone (docs/performance.md). libgomp reads OMP_WAIT_POLICY
// once, when it is loaded, so the program sets it and re-executes itself (same process, same
// arguments); a value the user set is left alone.
void prefer_passive_openmp_waits(char** argv) {
#if defined(__linux__) && defined(_OPENMP)
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only if it failed: go on with libgomp's default
#else
  (void)argv;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  prefer_passive_openmp_waits(argv);
  using namespace scvae_cli;
  CLI::App app{"scvae: variational auto-encoders (VAE, GMVAE) for single-cell RNA-seq counts"};
  app.require_subcommand(1);
  const std::vector<Command> commands = {add_train_command(app), add_evaluate_command(app),
                                         add_grid_search_command(app), add_simulate_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help or the parser's message
    return rc == 0 ? kExitOk : kExitUsage;
  }
  for (const auto& c : commands) {
    if (!c.app->parsed()) continue;
    const std::string who = "scvae " + c.app->get_name();
    try {
      return c.run();
    } catch (const UsageError& e) {
      std::fprintf(stderr, "%s: error: %s\nRun with --help for more information.\n", who.c_str(), e.what());
      return kExitUsage;
    } catch (const scvae::DivergenceError& e) {
      std::fprintf(stderr, "%s: error: %s\n", who.c_str(), strip_prefix(e.what()).c_str());
      return kExitDiverged;
    } catch (const scvae::InputError& e) {
      std::fprintf(stderr, "%s: error: %s\n", who.c_str(), strip_prefix(e.what()).c_str());
      return kExitInput;
    } catch (const scvae::CheckpointError& e) {
      std::fprintf(stderr, "%s: error: %s\n", who.c_str(), strip_prefix(e.what()).c_str());
      return kExitInput;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr,
                   "%s: error: out of memory: the data, the model or --importance-samples need more than this "
                   "machine has\n",
                   who.c_str());
      return kExitError;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: error: %s\n", who.c_str(), strip_prefix(e.what()).c_str());
      return kExitError;
    }
  }
  return kExitUsage;
}
