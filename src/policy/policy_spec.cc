#include "policy/policy_spec.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "core/scenario.h"
#include "core/text.h"

namespace coedge::policy {
namespace {

using Kind = OptionInfo::Kind;

constexpr OptionInfo kCoedgeDispatcherOptions[] = {
    {"batch-aware", Kind::kFlag,
     "Eq. 3 counts what batching saves: the tasks of one model on a node cost ExeTime(b)/b "
     "per job at the batch size b their deadlines allow (was 'coedge+')"},
    {"blocking-aware", Kind::kFlag,
     "a node must also pass a single job's worst case: waiting for the longest batch of "
     "another model there, then its own inference (inference is not preemptive)"},
    {"useful-evictions", Kind::kFlag,
     "stage 2 evicts a task only when another node can take it by estimate, never to leave "
     "it waiting unplaced"},
};

constexpr OptionInfo kCoedgeSchedulerOptions[] = {
    {"wait-for-batch", Kind::kFlag,
     "slack-aware waiting: holds a batch back for a job expected before the latest start "
     "that still meets the deadline, when that saves accelerator time (was 'coedge-wait')"},
};

constexpr OptionInfo kTritonOptions[] = {
    {"preferred", Kind::kBatchSizes,
     "preferred batch sizes for every model, e.g. preferred=4,8 (default: per model, the "
     "largest whose ExeTime fits half its tightest budget)"},
    {"max-queue-delay", Kind::kDuration,
     "the longest the oldest request waits for a batch, e.g. max-queue-delay=20ms (default: "
     "half the budget left after the preferred batch)"},
    {"timeout", Kind::kDurationOrNone,
     "reject requests queued longer than this, or 'none' (default: the budget less "
     "ExeTime(1))"},
};

constexpr BaseInfo kCatalogue[] = {
    {PolicyRole::kDispatcher, "coedge",
     "the paper's CoEdge dispatcher (§4.2.2): stage 1 places by Eqs. 2-4 and model "
     "similarity; stage 2 tracks alpha, evicts on measured misses and re-admits",
     kCoedgeDispatcherOptions},
    {PolicyRole::kDispatcher, "local",
     "every task on its source node, always (the paper's No offloading and Local+EDF)", {}},
    {PolicyRole::kDispatcher, "naive",
     "the paper's naive global allocation (§6.4): moves the worst task of a missing node to "
     "the node with the lowest measured miss rate; no bandwidth, profiles or similarity",
     {}},
    {PolicyRole::kDispatcher, "spread",
     "Kubernetes' default placement: each task to the node with the least requested "
     "accelerator share after adding it; never moves a running task",
     {}},
    {PolicyRole::kScheduler, "coedge",
     "the paper's batched executor (§4.3, Eqs. 5-6): the model with the earliest deadline "
     "runs the largest batch that meets it; jobs that cannot meet theirs even alone are "
     "dropped",
     kCoedgeSchedulerOptions},
    {PolicyRole::kScheduler, "edf", "earliest deadline first, batch size 1, no dropping", {}},
    {PolicyRole::kScheduler, "fixed",
     "highest task priority first, batch size 1, no dropping", {}},
    {PolicyRole::kScheduler, "triton",
     "Triton Inference Server's dynamic batcher: preferred sizes, a maximum queue delay, "
     "a queue timeout; knows no deadlines",
     kTritonOptions},
    {PolicyRole::kScheduler, "deadline-drop",
     "a Nexus/Clipper-style batcher: early drop of hopeless jobs, the largest batch within "
     "the deadline, models in round-robin turns",
     {}},
};

constexpr AliasInfo kAliases[] = {
    {PolicyRole::kDispatcher, "coedge+", "coedge:batch-aware"},
    {PolicyRole::kDispatcher, "coedge++", "coedge:batch-aware,blocking-aware,useful-evictions"},
    {PolicyRole::kScheduler, "coedge-wait", "coedge:wait-for-batch"},
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string> names_of(PolicyRole role) {
  std::vector<std::string> out;
  for (const BaseInfo& b : kCatalogue)
    if (b.role == role) out.emplace_back(b.name);
  return out;
}

}  // namespace

std::string_view to_string(PolicyRole role) {
  return role == PolicyRole::kDispatcher ? "dispatcher" : "scheduler";
}

std::span<const BaseInfo> policy_catalogue() { return kCatalogue; }
std::span<const AliasInfo> policy_aliases() { return kAliases; }

std::string base_names(PolicyRole role) {
  std::string out;
  for (const std::string& n : names_of(role)) out += (out.empty() ? "" : ", ") + n;
  return out;
}

const BaseInfo& Spec::info() const { return kCatalogue[base_]; }
std::string_view Spec::base() const { return info().name; }

bool Spec::has(std::string_view option) const {
  return std::any_of(values_.begin(), values_.end(),
                     [&](const Value& v) { return info().options[v.option].name == option; });
}

std::optional<Duration> Spec::duration(std::string_view option) const {
  for (const Value& v : values_)
    if (info().options[v.option].name == option) return v.duration;
  return std::nullopt;
}

std::optional<std::vector<int>> Spec::batch_sizes(std::string_view option) const {
  for (const Value& v : values_)
    if (info().options[v.option].name == option) return v.sizes;
  return std::nullopt;
}

bool Spec::operator==(const Spec& other) const {
  return role_ == other.role_ && base_ == other.base_ && values_ == other.values_;
}

std::string Spec::text() const {
  std::string out(base());
  char sep = ':';
  for (const Value& v : values_) {
    const OptionInfo& o = info().options[v.option];
    out += sep;
    sep = ',';
    out += o.name;
    switch (o.kind) {
      case Kind::kFlag: break;
      case Kind::kDuration:
      case Kind::kDurationOrNone:
        out += '=';
        out += *v.duration == kNever ? std::string("none") : format_duration(*v.duration);
        break;
      case Kind::kBatchSizes:
        out += '=';
        for (size_t i = 0; i < v.sizes.size(); ++i)
          out += (i ? "," : "") + std::to_string(v.sizes[i]);
        break;
    }
  }
  return out;
}

Status Spec::set(std::string_view option_text) { return set_token(trim(option_text), option_text); }

// One "name" or "name=value" token of `whole` (the text quoted in errors).
Status Spec::set_token(std::string_view token, std::string_view whole) {
  const size_t eq = token.find('=');
  const std::string_view name = trim(token.substr(0, eq));
  const std::string_view value = eq == std::string_view::npos ? std::string_view{} : trim(token.substr(eq + 1));
  const std::string where = std::string(to_string(role_)) + " " + quoted(whole) + ": ";
  const std::span<const OptionInfo> options = info().options;
  size_t index = 0;
  while (index < options.size() && options[index].name != name) ++index;
  if (index == options.size()) {
    std::vector<std::string> known;
    for (const OptionInfo& o : options) known.emplace_back(o.name);
    std::string hint = closest(name, known);
    return invalid_input(where + "unknown option " + quoted(name) + " of " + std::string(base()) +
                         (hint.empty() ? "" : " (did you mean '" + hint + "'?)") + "; " +
                         (known.empty() ? std::string(base()) + " takes no options"
                                        : "its options: " + known_list(known, 16)) +
                         " ('coedge policies' describes them)");
  }
  const OptionInfo& o = options[index];
  Value v{index, std::nullopt, {}};
  switch (o.kind) {
    case Kind::kFlag:
      if (eq != std::string_view::npos)
        return invalid_input(where + "option '" + std::string(o.name) + "' is a flag and takes no value");
      break;
    case Kind::kDuration:
    case Kind::kDurationOrNone: {
      if (o.kind == Kind::kDurationOrNone && value == "none") {
        v.duration = kNever;
        break;
      }
      Result<Duration> d = parse_signed_duration(value);
      if (!d.ok())
        return invalid_input(where + "option '" + std::string(o.name) + "' " + d.error().message +
                             (o.kind == Kind::kDurationOrNone ? ", or 'none'" : ""));
      if (d->count() < 0)
        return invalid_input(where + "option '" + std::string(o.name) + "' must not be negative");
      v.duration = *d;
      break;
    }
    case Kind::kBatchSizes: {
      // "4,8" arrives as "4" and then "8" tokens (see parse); here one or more sizes.
      std::string_view rest = value;
      while (true) {
        const size_t comma = rest.find(',');
        const std::string_view item = trim(rest.substr(0, comma));
        int size = 0;
        const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), size);
        if (!is_digits(item) || ec != std::errc{} || end != item.data() + item.size() ||
            size < 1 || size > kMaxBatch)
          return invalid_input(where + "option '" + std::string(o.name) +
                               "' takes batch sizes within 1-" + std::to_string(kMaxBatch) +
                               ", e.g. " + std::string(o.name) + "=4,8; got " + quoted(item));
        v.sizes.push_back(size);
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
      }
      std::sort(v.sizes.begin(), v.sizes.end());
      break;
    }
  }
  auto at = std::lower_bound(values_.begin(), values_.end(), index,
                             [](const Value& a, size_t i) { return a.option < i; });
  if (at != values_.end() && at->option == index)
    *at = std::move(v);
  else
    values_.insert(at, std::move(v));
  return Ok{};
}

Result<Spec> Spec::parse(PolicyRole role, std::string_view text, std::string* notice) {
  text = trim(text);
  for (const AliasInfo& a : kAliases) {
    if (a.role != role || a.alias != text) continue;
    if (notice)
      *notice = "'" + std::string(a.alias) + "' is a deprecated " + std::string(to_string(role)) +
                " name: it now reads '" + std::string(a.spec) + "' (the same policy)";
    return parse(role, a.spec, nullptr);
  }
  const size_t colon = text.find(':');
  const std::string_view base = trim(text.substr(0, colon));
  size_t index = 0;
  while (index < std::size(kCatalogue) &&
         (kCatalogue[index].role != role || kCatalogue[index].name != base))
    ++index;
  if (index == std::size(kCatalogue)) {
    std::vector<std::string> known = names_of(role);
    for (const AliasInfo& a : kAliases)
      if (a.role == role) known.emplace_back(a.alias);
    const std::string hint = closest(base, known);
    return invalid_input("unknown " + std::string(to_string(role)) + " " + quoted(text) +
                         (hint.empty() ? "" : " (did you mean '" + hint + "'?)") + "; one of: " +
                         base_names(role) + ", with options as 'coedge policies' lists");
  }
  Spec spec(role, index);
  if (colon == std::string_view::npos) return spec;
  // Options are comma-separated; a bare number continues the batch sizes before it
  // ("preferred=4,8"), so a list reads as it would on Triton's own command line.
  std::string_view rest = text.substr(colon + 1);
  std::string pending;  // the option being read, with the sizes that continue it
  auto flush = [&]() -> Status {
    if (pending.empty()) return Ok{};
    const std::string name(trim(std::string_view(pending).substr(0, pending.find('='))));
    if (spec.has(name))
      return invalid_input(std::string(to_string(role)) + " " + quoted(text) + ": option '" + name +
                           "' is given twice");
    Status st = spec.set_token(pending, text);
    pending.clear();
    return st;
  };
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view token = trim(rest.substr(0, comma));
    if (token.empty())
      return invalid_input(std::string(to_string(role)) + " " + quoted(text) +
                           ": an empty option (options are separated by single commas)");
    if (is_digits(token) && pending.find('=') != std::string::npos) {
      pending += ",";
      pending += token;
    } else {
      if (Status st = flush(); !st.ok()) return st.error();
      pending = token;
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (Status st = flush(); !st.ok()) return st.error();
  return spec;
}

template <PolicyRole kRole>
RoleSpec<kRole>::RoleSpec() : Spec(*Spec::parse(kRole, "coedge", nullptr)) {}

template <PolicyRole kRole>
Result<RoleSpec<kRole>> RoleSpec<kRole>::parse(std::string_view text, std::string* notice) {
  Result<Spec> spec = Spec::parse(kRole, text, notice);
  if (!spec.ok()) return spec.error();
  return RoleSpec(std::move(spec.value()));
}

template class RoleSpec<PolicyRole::kDispatcher>;
template class RoleSpec<PolicyRole::kScheduler>;

std::string PolicySpec::label() const {
  return dispatcher.text() + kPairSeparator + scheduler.text();
}

Result<PolicySpec> PolicySpec::parse(std::string_view label, std::vector<std::string>* notices) {
  // The old dispatcher aliases end in '+': "coedge+++edf" is coedge++ with edf. Try the
  // longest alias that prefixes the label before splitting at the first separator.
  size_t split = label.find(kPairSeparator);
  for (const AliasInfo& a : kAliases)
    if (a.role == PolicyRole::kDispatcher && label.size() > a.alias.size() &&
        label.substr(0, a.alias.size()) == a.alias && label[a.alias.size()] == kPairSeparator &&
        (split == std::string_view::npos || a.alias.size() > split))
      split = a.alias.size();
  if (split == std::string_view::npos)
    return invalid_input("policy pair " + quoted(label) + ": expected DISPATCHER" + kPairSeparator +
                         "SCHEDULER, e.g. 'coedge" + kPairSeparator + "edf'");
  std::string notice;
  PolicySpec out;
  auto d = DispatcherSpec::parse(label.substr(0, split), &notice);
  if (!d.ok()) return invalid_input("policy pair " + quoted(label) + ": " + d.error().message);
  if (!notice.empty() && notices) notices->push_back(notice);
  notice.clear();
  auto s = SchedulerSpec::parse(label.substr(split + 1), &notice);
  if (!s.ok()) return invalid_input("policy pair " + quoted(label) + ": " + s.error().message);
  if (!notice.empty() && notices) notices->push_back(notice);
  out.dispatcher = std::move(d.value());
  out.scheduler = std::move(s.value());
  return out;
}

std::vector<DispatcherSpec> dispatcher_variants() {
  std::vector<DispatcherSpec> out;
  for (std::string_view text : {"coedge", "coedge:batch-aware",
                                "coedge:batch-aware,blocking-aware,useful-evictions", "local",
                                "naive", "spread"})
    out.push_back(*DispatcherSpec::parse(text));
  return out;
}

std::vector<SchedulerSpec> scheduler_variants() {
  std::vector<SchedulerSpec> out;
  for (std::string_view text :
       {"coedge", "coedge:wait-for-batch", "edf", "fixed", "triton", "deadline-drop"})
    out.push_back(*SchedulerSpec::parse(text));
  return out;
}

}  // namespace coedge::policy
