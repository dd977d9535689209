// `coedge`: the one command-line program, with one subcommand per job.
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "cli.h"
#include "commands.h"
#include "core/build_info.h"
#include "media/codecs_plugin.h"
#include "net/bandwidth_probe.h"

namespace {

// The helper files the layers below look for next to this program, unless these
// variables name others (nothing below apps/ reads the environment).
void apply_environment() {
  if (const char* probe = std::getenv("COEDGE_PROBE_PROGRAM"); probe != nullptr && *probe != '\0') {
    coedge::net::set_probe_program(probe);
  }
  if (const char* plugin = std::getenv("COEDGE_MEDIA_PLUGIN"); plugin != nullptr && *plugin != '\0') {
    coedge::media::set_plugin_path(plugin);
  }
}

}  // namespace

int main(int argc, char** argv) {
  apply_environment();
  CLI::App app{
      "CoEdge: cooperative edge system for distributed real-time deep-learning tasks.\n"
      "Run 'coedge SUBCOMMAND --help' for the options of each subcommand."};
  app.name("coedge");
  app.require_subcommand(1);
  {
    const coedge::BuildInfo info = coedge::build_info();
    app.set_version_flag("--version", "coedge " + std::string(info.version) + " (" + std::string(info.revision) + ")");
  }
  auto sim = coedge::app::add_sim_command(app);
  auto city = coedge::app::add_city_command(app);
  auto profile = coedge::app::add_profile_command(app);
  auto sweep = coedge::app::add_sweep_command(app);
  auto node = coedge::app::add_node_command(app);
  auto node_server = coedge::app::add_node_server_command(app);
  auto master = coedge::app::add_master_command(app);
  auto camera = coedge::app::add_camera_command(app);
  auto cluster = coedge::app::add_cluster_command(app);
  auto demo = coedge::app::add_demo_command(app);
  auto policies = coedge::app::add_policies_command(app);
  auto explain = coedge::app::add_explain_command(app);
  auto keys = coedge::app::add_keys_command(app);
  auto sentry = coedge::app::add_sentry_command(app);
  coedge::app::cli::finish(app);
  if (auto code = coedge::app::cli::parse(app, argc, argv)) return *code;
  if (auto code = coedge::app::cli::check_paths(app)) return *code;
  try {
    if (app.got_subcommand("sim")) return sim();
    if (app.got_subcommand("city")) return city();
    if (app.got_subcommand("profile")) return profile();
    if (app.got_subcommand("sweep")) return sweep();
    if (app.got_subcommand("node")) return node();
    if (app.got_subcommand("node-server")) return node_server();
    if (app.got_subcommand("master")) return master();
    if (app.got_subcommand("camera")) return camera();
    if (app.got_subcommand("cluster")) return cluster();
    if (app.got_subcommand("demo")) return demo();
    if (app.got_subcommand("policies")) return policies();
    if (app.got_subcommand("explain")) return explain();
    if (app.got_subcommand("keys")) return keys();
    if (app.got_subcommand("sentry")) return sentry();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "coedge: out of memory (the scenario is too large for this machine)\n");
    return coedge::app::kExitFailure;
  }
  return coedge::app::kExitBadInput;
}
