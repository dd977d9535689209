#include "cluster/cluster_run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "cluster/cpu_limit.h"
#include "cluster/emulated_network.h"
#include "os/errno_text.h"
#include "os/fd.h"
#include "os/spawn.h"

namespace coedge::cluster {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Child {
  std::string name;
  pid_t pid = -1;
  bool running = false;
  int status = 0;
  bool killed_on_purpose = false;
  bool reported = false;
};

// Starts argv in the given network namespace and cgroup (empty: none), in a process group
// of its own (so that Ctrl-C reaches only us, and we stop the programs in order), with
// stdin /dev/null and stdout and stderr appended to `log`.
Result<pid_t> spawn(const std::vector<std::string>& argv, const std::string& log, const std::string& netns_path,
                    const std::string& cgroup_procs) {
  os::Fd out(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!out.valid()) return Error{ErrorCode::kIo, "cannot open " + log + ": " + os::errno_text(errno)};
  os::Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null.valid()) return Error{ErrorCode::kIo, "cannot open /dev/null: " + os::errno_text(errno)};
  os::SpawnOptions options;
  options.stdin_fd = null.get();
  options.stdout_fd = out.get();
  options.stderr_fd = out.get();
  options.own_process_group = true;
  // Async-signal-safe, in the child: the parent may have threads.
  const char* netns = netns_path.empty() ? nullptr : netns_path.c_str();
  const char* procs = cgroup_procs.empty() ? nullptr : cgroup_procs.c_str();
  options.before_exec = [netns, procs]() -> int {
    if (netns != nullptr) {
      if (const int err = EmulatedNetwork::enter_netns(netns); err != 0) return err;
    }
    return procs != nullptr ? CpuLimit::join(procs) : 0;
  };
  options.before_exec_what = "cannot enter the network namespace or join the CPU cgroup";
  auto pid = os::spawn(argv, options);
  if (!pid.ok()) return Error{pid.error().code, "coedge cluster: cannot start " + argv.front() + ": " + pid.error().message};
  return *pid;
}

void reap(std::vector<Child>& children) {
  for (Child& c : children) {
    if (!c.running) continue;
    if (const std::optional<int> status = os::reap_if_exited(c.pid); status && *status >= 0) {
      c.running = false;
      c.status = *status;
    }
  }
}

bool any_running(const std::vector<Child>& children, size_t from = 0) {
  for (size_t i = from; i < children.size(); ++i)
    if (children[i].running) return true;
  return false;
}

std::string describe_exit(const Child& c) {
  if (WIFSIGNALED(c.status)) return c.name + " was killed by signal " + std::to_string(WTERMSIG(c.status));
  return c.name + " exited with code " + std::to_string(WEXITSTATUS(c.status));
}

}  // namespace

Result<ClusterRunResult> run_cluster(const Scenario& scenario, const ClusterRunOptions& options) {
  const std::string tag = "[cluster" + (options.label.empty() ? "" : " " + options.label) + "] ";
  auto say = [&](const std::string& text) { std::fprintf(stderr, "%s%s\n", tag.c_str(), text.c_str()); };
  for (const KillEvent& k : options.kills) {
    if (scenario.find_node(k.node) == kNone) {
      return Error{ErrorCode::kInvalidInput, "--kill " + k.node + ": no such node in " + scenario.source_file};
    }
  }
  std::error_code ec;
  for (const char* sub : {"logs", "master", "nodes"}) std::filesystem::create_directories(options.out_dir + "/" + sub, ec);
  if (ec) return Error{ErrorCode::kIo, "cannot create " + options.out_dir + ": " + ec.message()};

  NetworkPlan plan;
  plan.prefix = options.prefix;
  for (const NodeSpec& n : scenario.nodes) plan.nodes.push_back({n.name});
  for (NodeIndex a = 0; a < scenario.nodes.size(); ++a)
    for (const Link& l : scenario.network.adjacency[a])
      if (l.peer > a) plan.links.push_back({a, l.peer, l.mbps});
  plan.default_mbps = scenario.network.default_mbps;
  say("building the network: " + std::to_string(plan.nodes.size()) + " node namespaces, " +
      std::to_string(plan.links.size()) + " shaped links, CPU quota " + std::to_string(options.node_cores).substr(0, 4) +
      " cores per node");
  auto network = EmulatedNetwork::create(plan);
  if (!network.ok()) return network.error();
  // The nodes start unthrottled, so that they report quickly; their quota applies from the
  // master's first plan, before they start any task (lean nodes load a model when a plan
  // gives them a task that uses it) and before any frame.
  std::vector<std::unique_ptr<CpuLimit>> limits;
  for (const NodeSpec& n : scenario.nodes) {
    auto limit = CpuLimit::create(options.prefix, n.name, options.node_cores);
    if (!limit.ok()) return limit.error();
    if (Status lifted = (*limit)->set_cores(0); !lifted.ok()) return lifted.error();
    limits.push_back(std::move(*limit));
  }

  const Duration duration = options.duration.count() > 0 ? options.duration : scenario.run.duration;
  const Duration window = options.window.count() > 0 ? options.window : scenario.run.window;
  const std::string domain = std::to_string(options.domain);
  const std::string logs = options.out_dir + "/logs/";
  for (const auto& entry : std::filesystem::directory_iterator(logs, ec)) std::filesystem::remove(entry.path(), ec);
  for (const char* stale : {"plans.jsonl", "windows.jsonl", "summary.json"}) {
    std::filesystem::remove(options.out_dir + "/master/" + stale, ec);
  }
  std::filesystem::remove(options.out_dir + "/sentry.json", ec);
  // A node appends its job lines run after run; a cluster run's folder holds one run.
  for (const NodeSpec& n : scenario.nodes) std::filesystem::remove(options.out_dir + "/nodes/" + n.name + "/jobs.jsonl", ec);

  // Children: [0] master, then per node its agent and its cameras.
  std::vector<Child> children;
  auto start = [&](const std::string& name, const std::vector<std::string>& argv, const std::string& netns,
                   const std::string& cgroup) -> Status {
    auto pid = spawn(argv, logs + name + ".log", netns, cgroup);
    if (!pid.ok()) return pid.error();
    children.push_back({name, *pid, true, 0, false, false});
    return Ok{};
  };
  auto stop_all = [&](int sig) {
    for (Child& c : children)
      if (c.running) kill(-c.pid, sig);
  };
  auto wait_all = [&](double seconds) {
    const auto until = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    while (any_running(children) && Clock::now() < until) {
      reap(children);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    reap(children);
  };
  auto fail = [&](Error e) -> Result<ClusterRunResult> {
    stop_all(SIGTERM);
    wait_all(10);
    stop_all(SIGKILL);
    wait_all(5);
    return e;
  };

  // --metrics-port: every program serves on its own namespace's address.
  auto metrics_args = [&](const std::string& address) {
    return options.metrics_port > 0
               ? std::vector<std::string>{"--metrics-port", std::to_string(options.metrics_port), "--metrics-address", address}
               : std::vector<std::string>{};
  };
  std::vector<std::string> master_argv = {
      options.coedge_exe, "master", "--scenario", options.scenario_file, "--dispatcher",
      options.dispatcher, "--duration", format_duration(duration), "--window", format_duration(window),
      "--wait-for-nodes", "240s", "--out", options.out_dir + "/master", "--domain", domain,
      "--dds-interface", (*network)->master_address()};
  for (std::string& a : metrics_args((*network)->master_address())) master_argv.push_back(std::move(a));
  // --keystore: every program as its own identity (the master's, node N's, camera N's).
  auto keystore_args = [&]() {
    return options.keystore.empty() ? std::vector<std::string>{} : std::vector<std::string>{"--keystore", options.keystore};
  };
  for (std::string& a : keystore_args()) master_argv.push_back(std::move(a));
  Status st = start("master", master_argv, (*network)->master_netns_path(), "");
  if (!st.ok()) return fail(st.error());
  // A secure run's sentry: a participant without credentials in the master's namespace that
  // logs every writer it can see on CoEdge's topics, i.e. every unauthenticated attempt
  // (`coedge sentry`), into OUT/sentry.json when it is stopped after the master.
  // It starts with the run (the master's first plan): started with the programs, it saw
  // nothing in our runs (a Cyclone plain participant that starts among secure ones that
  // are still starting missed later plain ones; not understood).
  size_t sentry = 0;
  auto start_sentry = [&]() -> Status {
    if (options.keystore.empty()) return Ok{};
    sentry = children.size();
    return start("sentry",
                 {options.coedge_exe, "sentry", "--domain", domain, "--dds-interface", (*network)->master_address(),
                  "--json", options.out_dir + "/sentry.json"},
                 (*network)->master_netns_path(), "");
  };
  std::vector<size_t> agent_of(scenario.nodes.size());
  for (NodeIndex k = 0; k < scenario.nodes.size(); ++k) {
    const std::string& name = scenario.nodes[k].name;
    std::vector<std::string> argv = {options.coedge_exe, "node", "--scenario", options.scenario_file, "--name", name,
                                     "--models-dir", options.models_dir, "--domain", domain, "--dds-interface",
                                     (*network)->address(k), "--run-dir", options.out_dir + "/nodes/" + name,
                                     // every job's timeline, for `coedge explain OUT TASK`
                                     "--jobs", options.out_dir + "/nodes/" + name + "/jobs.jsonl",
                                     "--isolation", options.isolation, "--scheduler", options.scheduler,
                                     "--backend-threads", "1"};
    for (NodeIndex j = 0; j < scenario.nodes.size(); ++j)
      if (j != k) argv.insert(argv.end(), {"--peer", scenario.nodes[j].name + "=" + (*network)->address(j)});
    for (std::string& a : metrics_args((*network)->address(k))) argv.push_back(std::move(a));
    for (std::string& a : keystore_args()) argv.push_back(std::move(a));
    agent_of[k] = children.size();
    st = start("node-" + name, argv, (*network)->netns_path(k), limits[k]->procs_path());
    if (!st.ok()) return fail(st.error());
    std::vector<std::string> camera_argv = {options.coedge_exe, "camera", "--scenario", options.scenario_file,
                                            "--node", name, "--domain", domain, "--dds-interface",
                                            (*network)->address(k)};
    for (std::string& a : keystore_args()) camera_argv.push_back(std::move(a));
    st = start("camera-" + name, camera_argv, (*network)->netns_path(k), "");
    if (!st.ok()) return fail(st.error());
  }
  say("started the master, " + std::to_string(scenario.nodes.size()) + " node agents and their cameras (" +
      (options.keystore.empty() ? std::string("plain: an open DDS domain")
                                : (options.security_label.empty() ? std::string("secure") : options.security_label) +
                                      ", keystore " + options.keystore) +
      "); logs in " + logs);

  // Wait for the master's first plan, then play the events.
  const std::string plans = options.out_dir + "/master/plans.jsonl";
  const auto launched = Clock::now();
  Clock::time_point run_start{};
  bool started = false, stopping = false;
  std::vector<bool> link_done(scenario.link_changes.size(), false), kill_done(options.kills.size(), false);
  double next_progress = 0;
  ClusterRunResult result;
  while (children[0].running) {
    reap(children);
    if (!started) {
      if (std::filesystem::file_size(plans, ec) > 0 && !ec) {
        for (auto& limit : limits) {
          if (Status limited = limit->set_cores(options.node_cores); !limited.ok()) {
            return fail(limited.error());
          }
        }
        started = true;
        run_start = Clock::now();
        if (Status sentried = start_sentry(); !sentried.ok()) return fail(sentried.error());
        say("the master placed the tasks after " + std::to_string(static_cast<int>(seconds_since(launched))) +
            " s of start-up; running for " + format_duration(duration));
        next_progress = 20;
      } else if (seconds_since(launched) >= next_progress) {
        say("starting up: waiting for every node to report (" +
            std::to_string(static_cast<int>(seconds_since(launched))) + " s)");
        next_progress += 15;
      }
    }
    if (started) {
      const double t = seconds_since(run_start);
      for (size_t i = 0; i < scenario.link_changes.size(); ++i) {
        const LinkChange& c = scenario.link_changes[i];
        if (link_done[i] || t < to_s(c.at)) continue;
        link_done[i] = true;
        Status changed = (*network)->set_link_mbps(c.a, c.b, c.mbps);
        const std::string note = "t=" + std::to_string(static_cast<int>(t)) + "s: link " + scenario.nodes[c.a].name + "-" +
                                 scenario.nodes[c.b].name + " set to " + std::to_string(static_cast<int>(c.mbps)) +
                                 " Mbit/s" + (changed.ok() ? "" : " FAILED: " + changed.error().message);
        say(note);
        result.notes.push_back(note);
      }
      for (size_t i = 0; i < options.kills.size(); ++i) {
        if (kill_done[i] || t < to_s(options.kills[i].at)) continue;
        kill_done[i] = true;
        Child& agent = children[agent_of[scenario.find_node(options.kills[i].node)]];
        if (!agent.running) {
          say("--kill " + options.kills[i].node + ": its agent is not running any more");
          continue;
        }
        agent.killed_on_purpose = true;
        kill(agent.pid, SIGKILL);
        timespec now{};
        clock_gettime(CLOCK_REALTIME, &now);
        char unix_time[48];
        std::snprintf(unix_time, sizeof unix_time, " at unix %.3f s", static_cast<double>(now.tv_sec) + now.tv_nsec / 1e9);
        const std::string note = "t=" + std::to_string(static_cast<int>(t)) + "s: kill -9 of node agent " +
                                 options.kills[i].node + " (pid " + std::to_string(agent.pid) + ")" + unix_time;
        say(note);
        result.notes.push_back(note);
      }
      if (t >= next_progress && t <= to_s(duration)) {
        if (options.progress) {
          say(std::to_string(static_cast<int>(t)) + " / " + std::to_string(static_cast<int>(to_s(duration))) + " s" +
              (options.keystore.empty() ? " (plain)" : " (secure)"));
        }
        next_progress += 20;
      }
      if (t > to_s(duration) + 240) {
        say("the master did not finish in time: stopping everything");
        break;
      }
    } else if (seconds_since(launched) > 300) {
      return fail(Error{ErrorCode::kIo, "the master placed no task within 300 s; see " + logs + "master.log"});
    }
    for (size_t i = 1; i < children.size(); ++i) {
      Child& c = children[i];
      if (c.running || c.killed_on_purpose || c.reported || c.status == 0) continue;
      c.reported = true;
      const std::string note = describe_exit(c) + " (see " + logs + c.name + ".log)";
      say(note);
      result.notes.push_back(note);
    }
    if (options.stop != nullptr && options.stop->load() && !stopping) {
      stopping = true;
      say("stopping: the master stops the cameras, then the nodes");
      kill(children[0].pid, SIGTERM);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  result.run_s = started ? seconds_since(run_start) : 0;
  if (sentry > 0 && children[sentry].running) kill(children[sentry].pid, SIGTERM);  // writes sentry.json
  wait_all(started ? 30 : 0);  // a master that ran told the nodes and cameras to stop
  if (any_running(children)) {
    say("stopping the programs still running");
    stop_all(SIGTERM);
    wait_all(10);
    stop_all(SIGKILL);
    wait_all(5);
  }
  // The killed agents' servers and workers are still in their cgroups: CpuLimit kills them.
  limits.clear();
  if (Status down = (*network)->teardown(); !down.ok()) say("teardown: " + down.error().message);
  if (children[0].status != 0) {
    return Error{ErrorCode::kIo, describe_exit(children[0]) + "; see " + logs + "master.log"};
  }
  result.summary_json = options.out_dir + "/master/summary.json";
  if (!std::filesystem::exists(result.summary_json)) {
    return Error{ErrorCode::kIo, "the master wrote no summary (" + describe_exit(children[0]) + "); see " + logs +
                                     "master.log"};
  }
  return result;
}

}  // namespace coedge::cluster
