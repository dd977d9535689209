// Policy specs: the one way a dispatcher or a local scheduler is named, on the command
// line, in node configs, plans, labels, folders and reports. A spec is a base policy and
// its options, e.g. `coedge:batch-aware,useful-evictions` or
// `triton:preferred=4,8,max-queue-delay=20ms`. It is parsed once, at the edge (apps/,
// config/), into a typed value that the factories (make_dispatcher, make_local_scheduler)
// build from without failing; nothing validates a name by building a throw-away object.
//
// text() is canonical: options in the catalogue's order, durations as format_duration
// writes them. Equal policies have equal texts, and that text is what labels, folders and
// reports show. A pair is labelled DISPATCHER+SCHEDULER (kPairSeparator), everywhere.
//
// The names of earlier releases (coedge+, coedge++, coedge-wait) are aliases: parsing one
// gives the same policy and a one-line deprecation notice for the caller to print.
// Adding an option is one catalogue entry (policy_spec.cc) and one read in the policy's
// factory. Pure; no state but the constant catalogue, so thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace coedge::policy {

enum class PolicyRole { kDispatcher, kScheduler };
std::string_view to_string(PolicyRole role);  // "dispatcher", "scheduler"

// Separates a pair's dispatcher and scheduler in labels and folder names: "local+edf".
inline constexpr char kPairSeparator = '+';

// One option of a base policy.
struct OptionInfo {
  enum class Kind {
    kFlag,            // present or not: "batch-aware"
    kDuration,        // "max-queue-delay=20ms"
    kDurationOrNone,  // "timeout=50ms" or "timeout=none" (kNever)
    kBatchSizes,      // "preferred=4,8": batch sizes within 1..kMaxBatch
  };
  std::string_view name;
  Kind kind = Kind::kFlag;
  std::string_view help;  // one line: what it changes against the base policy
};

// One base policy: what it is, and the options it takes.
struct BaseInfo {
  PolicyRole role = PolicyRole::kDispatcher;
  std::string_view name;
  std::string_view summary;  // one line
  std::span<const OptionInfo> options;
};

// An old name and the spec it stands for.
struct AliasInfo {
  PolicyRole role = PolicyRole::kDispatcher;
  std::string_view alias;
  std::string_view spec;
};

std::span<const BaseInfo> policy_catalogue();
std::span<const AliasInfo> policy_aliases();

// A parsed spec; see DispatcherSpec and SchedulerSpec for the typed ones.
class Spec {
 public:
  PolicyRole role() const { return role_; }
  std::string_view base() const;
  const BaseInfo& info() const;
  bool has(std::string_view option) const;
  // The value of a duration option, if set (kNever for "none").
  std::optional<Duration> duration(std::string_view option) const;
  // The value of a batch-sizes option, if set: ascending.
  std::optional<std::vector<int>> batch_sizes(std::string_view option) const;
  // Sets (or replaces) one option from its text, e.g. "timeout=none" or "batch-aware".
  // Errors name the option and what it accepts.
  Status set(std::string_view option_text);
  std::string text() const;
  bool operator==(const Spec& other) const;

 protected:
  Spec(PolicyRole role, size_t base) : role_(role), base_(base) {}
  // Parses `text` as a spec of `role`. `notice`, when not null, receives the one-line
  // deprecation notice when `text` is an old alias (else it is left unchanged).
  static Result<Spec> parse(PolicyRole role, std::string_view text, std::string* notice);

 private:
  struct Value {
    size_t option = 0;  // index into info().options
    std::optional<Duration> duration;
    std::vector<int> sizes;
    bool operator==(const Value&) const = default;
  };
  Status set_token(std::string_view token, std::string_view whole);

  PolicyRole role_;
  size_t base_;                // index into policy_catalogue()
  std::vector<Value> values_;  // sorted by option index
};

// A spec of one role, so that a dispatcher spec cannot be given where a scheduler's is
// expected. Default: the paper's policy of that role ("coedge").
template <PolicyRole kRole>
class RoleSpec : public Spec {
 public:
  RoleSpec();
  // `notice`, when not null, receives the deprecation notice of an old alias.
  static Result<RoleSpec> parse(std::string_view text, std::string* notice = nullptr);

 private:
  explicit RoleSpec(Spec spec) : Spec(std::move(spec)) {}
};
using DispatcherSpec = RoleSpec<PolicyRole::kDispatcher>;
using SchedulerSpec = RoleSpec<PolicyRole::kScheduler>;
extern template class RoleSpec<PolicyRole::kDispatcher>;
extern template class RoleSpec<PolicyRole::kScheduler>;

// What one run uses: the master's dispatcher and every node's local scheduler.
struct PolicySpec {
  DispatcherSpec dispatcher;
  SchedulerSpec scheduler;
  // "DISPATCHER+SCHEDULER", e.g. "coedge:batch-aware+edf": also the folder name of the
  // pair's results when several pairs run side by side.
  std::string label() const;
  // The inverse of label(); the dispatcher's text ends at the first kPairSeparator.
  // `notices` receives one line per alias used.
  static Result<PolicySpec> parse(std::string_view label,
                                  std::vector<std::string>* notices = nullptr);
  bool operator==(const PolicySpec&) const = default;
};

// The variants `--compare all` runs, in this order: each base, and the option sets that
// earlier releases named (CoEdge+, CoEdge++, the waiting CoEdge scheduler).
std::vector<DispatcherSpec> dispatcher_variants();
std::vector<SchedulerSpec> scheduler_variants();

// "coedge, local, naive, spread": the base names of a role, for help texts.
std::string base_names(PolicyRole role);

}  // namespace coedge::policy
