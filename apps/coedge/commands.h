// The subcommands of the `coedge` program. Each registers its options on the CLI11 app and
// returns the process exit code when run: 0 success, 1 an I/O failure, 2 bad input, 3 a
// run that completed with jobs unaccounted for (cli.h: the same in every subcommand).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace coedge::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitUnaccounted = 3;

// Adds the subcommand to `app`; the returned function runs it once parsing succeeded.
std::function<int()> add_sim_command(CLI::App& app);
std::function<int()> add_city_command(CLI::App& app);
std::function<int()> add_profile_command(CLI::App& app);
std::function<int()> add_sweep_command(CLI::App& app);
std::function<int()> add_node_command(CLI::App& app);
std::function<int()> add_node_server_command(CLI::App& app);
std::function<int()> add_master_command(CLI::App& app);
std::function<int()> add_camera_command(CLI::App& app);
std::function<int()> add_cluster_command(CLI::App& app);
std::function<int()> add_demo_command(CLI::App& app);
std::function<int()> add_policies_command(CLI::App& app);
std::function<int()> add_explain_command(CLI::App& app);
std::function<int()> add_keys_command(CLI::App& app);
std::function<int()> add_sentry_command(CLI::App& app);

}  // namespace coedge::app
