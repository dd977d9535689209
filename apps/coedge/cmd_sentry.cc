// `coedge sentry`: a participant WITHOUT credentials, on purpose, that watches a domain's
// discovery for writers on CoEdge's topics. In a secure cluster the discovery of the control
// topics is protected and the secure participants ignore unauthenticated ones, so a writer
// it sees on a control topic is an unauthenticated participant's: an attempt, which would
// otherwise leave no trace (Cyclone drops unauthenticated participants silently). Image and
// result topics are discovered in the clear: a cluster's own writer announced by multicast
// after the sentry joined could be listed too (docs/SECURITY.md, "What is not protected").
// It logs each one, and writes a JSON summary (--json) at exit. On a plain domain it sees
// every writer, the cluster's own included: it is for secure domains. `coedge cluster
// --secure` runs one in the master's namespace (OUT/sentry.json).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "commands.h"
#include "config/scenario_loader.h"
#include "net/dds.h"
#include "net/dds_discovery.h"
#include "process_support.h"
#include "write_file.h"

namespace coedge::app {

std::function<int()> add_sentry_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "sentry",
      "Watch a secure cluster's DDS domain for unauthenticated participants: joins WITHOUT "
      "credentials and logs every writer it can see on the CoEdge topics (rt/coedge/...), "
      "which in a secure domain can only be an attacker's attempt; a JSON summary at exit.");
  struct Flags {
    uint32_t domain = 0;
    std::string interface_address, duration, json, prefix = "rt/coedge/";
    std::vector<std::string> peers;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("--domain", f->domain, "DDS domain id (0-232)")->capture_default_str()->check(cli::whole_number(0, 232));
  cmd->add_option("--dds-interface", f->interface_address, "address of the network interface DDS uses");
  cmd->add_option("--dds-peer", f->peers, "unicast discovery peer address (repeat); default: multicast discovery");
  cmd->add_option("--duration", f->duration, "stop after this long (default: until Ctrl-C or SIGTERM)");
  cmd->add_option("--topic-prefix", f->prefix, "watch writers on DDS topics starting with this")->capture_default_str();
  cmd->add_option("--json", f->json, "write the summary here at exit (unauthenticated_writers: {topic: count}, writers)");
  cli::output_path(cmd->get_option("--json"), f->json, cli::PathKind::kOutputFile);
  return [f] {
    Duration duration = kNever;
    if (!f->duration.empty()) {
      auto d = config::parse_duration(f->duration);
      if (!d.ok() || d->count() <= 0) {
        std::fprintf(stderr, "coedge sentry: --duration: %s\n", d.ok() ? "must be positive" : d.error().message.c_str());
        return kExitBadInput;
      }
      duration = *d;
    }
    net::DdsOptions options;
    options.domain = f->domain;
    options.interface_address = f->interface_address;
    options.peers = f->peers;
    auto domain = net::DdsDomain::create(options);
    if (!domain.ok()) {
      std::fprintf(stderr, "coedge sentry: %s\n", domain.error().message.c_str());
      return cli::exit_code_of(domain.error());
    }
    auto watcher = net::DiscoveryWatcher::create(**domain);
    if (!watcher.ok()) {
      std::fprintf(stderr, "coedge sentry: %s\n", watcher.error().message.c_str());
      return kExitFailure;
    }
    const std::atomic<bool>* stop = install_stop_signals();
    std::fprintf(stderr, "[sentry] watching DDS domain %u for unauthenticated writers on %s*\n", f->domain,
                 f->prefix.c_str());
    const auto start = std::chrono::steady_clock::now();
    std::map<std::string, uint64_t> counts;
    nlohmann::json writers = nlohmann::json::array();
    size_t participants_max = 0;
    auto poll = [&] {
      for (const net::DiscoveredWriter& w : (*watcher)->take()) {
        if (w.topic.rfind(f->prefix, 0) != 0) continue;
        std::string parts;
        for (const std::string& p : w.partitions) parts += (parts.empty() ? "" : ",") + ("'" + p + "'");
        if (parts.empty()) parts = "(default)";
        const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::fprintf(stderr, "[sentry] %.1fs: unauthenticated writer %s on %s, partition %s, participant %s\n", t,
                     w.alive ? "appeared" : "gone", w.topic.c_str(), parts.c_str(), w.participant.c_str());
        if (!w.alive) continue;
        ++counts[w.topic];
        writers.push_back({{"topic", w.topic}, {"type", w.type}, {"partitions", w.partitions},
                           {"participant", w.participant}, {"t", t}});
      }
      participants_max = std::max(participants_max, (*watcher)->participants());
    };
    // kNever is compared before it meets a finer clock (Duration::max() in ns overflows).
    while (!stop->load() && (duration == kNever || std::chrono::steady_clock::now() - start < duration)) {
      poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    poll();
    uint64_t total = 0;
    for (const auto& [topic, n] : counts) total += n;
    std::fprintf(stderr, "[sentry] stopped: %llu unauthenticated writers seen\n", static_cast<unsigned long long>(total));
    if (!f->json.empty()) {
      nlohmann::json j{{"domain", f->domain},
                       {"topic_prefix", f->prefix},
                       {"unauthenticated_writers", counts},
                       {"unauthenticated_writers_total", total},
                       {"unauthenticated_participants_max", participants_max},
                       {"writers", writers}};
      if (Status st = write_file(f->json, j.dump(2) + "\n"); !st.ok()) {
        std::fprintf(stderr, "coedge sentry: %s\n", st.error().message.c_str());
        return kExitFailure;
      }
    }
    return kExitOk;
  };
}

}  // namespace coedge::app
