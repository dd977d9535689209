// `coedge keys`: creates and manages a cluster's DDS Security keystore (security/keystore.h):
// init (the CA, the CRL, the signed governance; with --scenario every identity the
// scenario's cluster needs), add, revoke, list. One action word and the keystore folder as
// positionals (`coedge keys add DIR node n1`), so the house parser and its messages apply
// as to every other subcommand.
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli.h"
#include "commands.h"
#include "config/scenario_loader.h"
#include "security/keystore.h"

namespace coedge::app {
namespace {

using security::Role;

constexpr const char* kWhat = "coedge keys";

int fail(const Error& error) {
  std::fprintf(stderr, "%s: %s\n", kWhat, error.message.c_str());
  return cli::exit_code_of(error);
}

int bad_input(const std::string& message) {
  std::fprintf(stderr, "%s: %s (see coedge keys --help)\n", kWhat, message.c_str());
  return kExitBadInput;
}

std::string label(Role role, const std::string& name) {
  return role == Role::kMaster ? "master" : std::string(security::role_name(role)) + " " + name;
}

// ROLE [NAME] from the words after DIR: "master", "node NAME", "camera NAME" (the master
// may be revoked too: a stolen master host).
Result<std::pair<Role, std::string>> parse_identity(const std::vector<std::string>& words) {
  if (words.empty()) return Error{ErrorCode::kInvalidInput, "which identity? give master, node NAME or camera NAME"};
  const std::string& role = words[0];
  if (role == "master") {
    if (words.size() != 1) return Error{ErrorCode::kInvalidInput, "the master has no name (got '" + words[1] + "')"};
    return std::pair{Role::kMaster, std::string()};
  }
  if (role != "node" && role != "camera")
    return Error{ErrorCode::kInvalidInput, "unknown role '" + role + "': it is master, node or camera"};
  if (words.size() > 2) return Error{ErrorCode::kInvalidInput, "one identity at a time (got '" + words[2] + "' after the name)"};
  if (words.size() != 2)
    return Error{ErrorCode::kInvalidInput, role + " needs exactly one name (the scenario's node name), e.g. " + role + " n1"};
  return std::pair{role == "node" ? Role::kNode : Role::kCamera, words[1]};
}

struct Flags {
  std::string action, dir;
  std::vector<std::string> identity;  // ROLE [NAME]
  std::string images = "encrypt", scenario;
  int days = 3650;
};

// Every identity a scenario's cluster needs: the master, every node, and the camera process
// of every node that is the source of a task the cluster's own camera publishes (a task
// with a ROS `topic` is published by an outside driver with its own SROS2 identity).
std::vector<std::pair<Role, std::string>> scenario_identities(const Scenario& scenario) {
  std::vector<std::pair<Role, std::string>> out{{Role::kMaster, ""}};
  std::set<size_t> camera_nodes;
  for (const TaskSpec& t : scenario.tasks)
    if (t.topic.empty() && t.source < scenario.nodes.size()) camera_nodes.insert(t.source);
  for (const NodeSpec& n : scenario.nodes) out.emplace_back(Role::kNode, n.name);
  for (size_t i : camera_nodes) out.emplace_back(Role::kCamera, scenario.nodes[i].name);
  return out;
}

int run_init(const Flags& f) {
  if (!f.identity.empty()) return bad_input("init takes only the folder (got '" + f.identity[0] + "' after it)");
  std::vector<std::pair<Role, std::string>> identities;
  if (!f.scenario.empty()) {
    auto scenario = config::load_scenario(f.scenario);
    if (!scenario) return fail(scenario.error());
    identities = scenario_identities(*scenario);
    // Every name first: a name that cannot be an identity must not leave a half keystore.
    for (const auto& [role, name] : identities)
      if (auto s = security::check_identity(role, name); !s)
        return fail(Error{ErrorCode::kInvalidInput, "scenario " + f.scenario + ": " + s.error().message +
                                                        "; nothing was created"});
  }
  const security::KeystoreOptions options{
      .images = f.images == "encrypt" ? security::TopicProtection::kEncrypt : security::TopicProtection::kSign,
      .validity_days = f.days};
  if (auto s = security::create_keystore(f.dir, options); !s) return fail(s.error());
  std::printf("created the keystore %s: CA \"CN=CoEdge cluster CA\" valid %d days, images and results %s\n",
              f.dir.c_str(), f.days, f.images == "encrypt" ? "encrypted" : "signed");
  for (const auto& [role, name] : identities) {
    if (auto s = security::add_identity(f.dir, role, name); !s) return fail(s.error());
    std::printf("issued %s\n", label(role, name).c_str());
  }
  std::printf("private/ holds the CA's key: keep it on this machine, and copy to each host only public/, "
              "enclaves/governance.p7s and its own enclave (docs/SECURITY.md)\n");
  return kExitOk;
}

int run_list(const Flags& f) {
  if (!f.identity.empty()) return bad_input("list takes only the folder (got '" + f.identity[0] + "' after it)");
  auto list = security::list_identities(f.dir);
  if (!list) return fail(list.error());
  std::printf("%-7s %-20s %-30s %-21s %s\n", "ROLE", "NAME", "SUBJECT", "NOT AFTER", "REVOKED");
  for (const security::IdentityInfo& i : *list) {
    std::printf("%-7s %-20s %-30s %-21s %s\n", std::string(security::role_name(i.role)).c_str(),
                i.name.empty() ? "-" : i.name.c_str(), i.subject.c_str(), i.not_after.c_str(), i.revoked ? "yes" : "no");
  }
  if (list->empty()) std::printf("(no identity yet: coedge keys add %s master | node NAME | camera NAME)\n", f.dir.c_str());
  return kExitOk;
}

}  // namespace

std::function<int()> add_keys_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "keys",
      "Create and manage a cluster's DDS Security keystore (docs/SECURITY.md): a CA, one identity "
      "(certificate, key, signed permissions) per master, node and camera, the signed governance and "
      "a revocation list, laid out as SROS2 lays out a keystore.\n"
      "  coedge keys init DIR [--images sign|encrypt] [--days N] [--scenario S.yaml]\n"
      "      a new keystore in DIR (new or empty); with --scenario also the master, every node, and the\n"
      "      camera of every node that is a task's source\n"
      "  coedge keys add DIR master | node NAME | camera NAME\n"
      "      issue an identity (a revoked one may be issued again: key rotation)\n"
      "  coedge keys revoke DIR master | node NAME | camera NAME\n"
      "      list its certificate in the CRL and delete its key; the other participants refuse it once\n"
      "      they restart with the new public/crl.pem\n"
      "  coedge keys list DIR\n"
      "      every identity: role, name, subject, expiry, revoked\n"
      "Then run `coedge master|node|camera --keystore DIR`.");
  auto f = std::make_shared<Flags>();
  cmd->add_option("action", f->action, "init, add, revoke or list")
      ->required()
      ->check(cli::one_of({"init", "add", "revoke", "list"}));
  cmd->add_option("dir", f->dir, "the keystore folder")->required()->type_name("DIR");
  cmd->add_option("identity", f->identity, "add and revoke: master, node NAME or camera NAME");
  cmd->add_option("--images", f->images,
                  "init: how topics other than the control topics (images, results) are protected: encrypt "
                  "(confidential and authenticated) or sign (authenticated, readable by a capture on the "
                  "network); control topics are always encrypted")
      ->capture_default_str()
      ->check(cli::one_of({"sign", "encrypt"}));
  cmd->add_option("--days", f->days, "init: validity of the CA and of every identity it issues, in days")
      ->capture_default_str()
      ->check(cli::whole_number(1, 36500));
  cli::input_path(cmd->add_option("--scenario", f->scenario, "init: also issue every identity this scenario's cluster needs"),
                  f->scenario);
  return [f, cmd] {
    if (f->action != "init") {
      for (const char* o : {"--images", "--days", "--scenario"})
        if (cmd->count(o) > 0) return bad_input(std::string(o) + " applies to init only, not to " + f->action);
    }
    if (f->action == "init") return run_init(*f);
    if (f->action == "list") return run_list(*f);
    auto identity = parse_identity(f->identity);
    if (!identity) return bad_input(identity.error().message);
    const auto& [role, name] = *identity;
    if (f->action == "add") {
      if (auto s = security::add_identity(f->dir, role, name); !s) return fail(s.error());
      std::printf("issued %s in %s\n", label(role, name).c_str(), f->dir.c_str());
      return kExitOk;
    }
    if (auto s = security::revoke_identity(f->dir, role, name); !s) return fail(s.error());
    std::printf(
        "revoked %s: its serial is in %s/public/crl.pem and its key is deleted here. Copy public/crl.pem to every "
        "host and restart its participants (Cyclone reads the CRL when a participant starts); until then "
        "a participant that has not restarted still accepts it.\n",
        label(role, name).c_str(), f->dir.c_str());
    return kExitOk;
  };
}

}  // namespace coedge::app
