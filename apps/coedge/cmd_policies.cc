// `coedge policies`: every dispatcher and local scheduler, what it is, and its options,
// from the one catalogue the parsers use (policy_spec.h), so the list cannot drift from
// what the other subcommands accept.
#include <cstdio>
#include <string>

#include "commands.h"
#include "policy/policy_spec.h"

namespace coedge::app {
namespace {

std::string kind_text(policy::OptionInfo::Kind kind) {
  switch (kind) {
    case policy::OptionInfo::Kind::kFlag: return "";
    case policy::OptionInfo::Kind::kDuration: return "=DURATION";
    case policy::OptionInfo::Kind::kDurationOrNone: return "=DURATION|none";
    case policy::OptionInfo::Kind::kBatchSizes: return "=B[,B...]";
  }
  return "";
}

// Wraps `text` at `width` columns, every line after the first indented by `indent`.
std::string wrap(const std::string& text, size_t indent, size_t width) {
  std::string out, line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  return out + line;
}

void print_role(policy::PolicyRole role, const char* title) {
  std::printf("%s\n", title);
  for (const policy::BaseInfo& base : policy::policy_catalogue()) {
    if (base.role != role) continue;
    std::printf("  %-15s %s\n", std::string(base.name).c_str(), wrap(std::string(base.summary), 18, 92).c_str());
    for (const policy::OptionInfo& o : base.options) {
      const std::string name = ":" + std::string(o.name) + kind_text(o.kind);
      std::printf("    %-26s %s\n", name.c_str(), wrap(std::string(o.help), 31, 92).c_str());
    }
  }
  std::printf("\n");
}

}  // namespace

std::function<int()> add_policies_command(CLI::App& app) {
  app.add_subcommand("policies",
                     "List every dispatcher and local scheduler, what it does, and its options.");
  return [] {
    std::printf(
        "A policy is named by a spec: a base name, then options after a colon, separated by\n"
        "commas, e.g. coedge:batch-aware,useful-evictions or triton:preferred=4,8,timeout=none.\n"
        "A pair is DISPATCHER%cSCHEDULER (labels, --pairs, result folders), e.g. local%cedf.\n\n",
        policy::kPairSeparator, policy::kPairSeparator);
    print_role(policy::PolicyRole::kDispatcher, "Dispatchers (--dispatcher; the master, coedge sim -d):");
    print_role(policy::PolicyRole::kScheduler,
               "Local schedulers (--scheduler; every node, coedge sim -s, a node config's scheduler:):");
    std::printf("Deprecated names (still accepted, with a notice):\n");
    for (const policy::AliasInfo& a : policy::policy_aliases())
      std::printf("  %-15s %s %s\n", std::string(a.alias).c_str(),
                  std::string(policy::to_string(a.role)).c_str(), std::string(a.spec).c_str());
    return kExitOk;
  };
}

}  // namespace coedge::app
