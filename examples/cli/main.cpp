// scvae: train, evaluate, grid-search and simulate from the command line (docs/cli.md).
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <scvae/core/error.hpp>

#include "commands.hpp"
#include "common.hpp"

namespace {

// Library messages start with "scvae: "; the prefix printed here already names the program.
std::string strip_prefix(std::string m) {
  const std::string p = "scvae: ";
  return m.compare(0, p.size(), p) == 0 ? m.substr(p.size()) : m;
}

}  // namespace

int main(int argc, char** argv) {
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
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: error: %s\n", who.c_str(), strip_prefix(e.what()).c_str());
      return kExitError;
    }
  }
  return kExitUsage;
}
