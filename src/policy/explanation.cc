#include "policy/explanation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/text.h"

namespace coedge::policy {
namespace {

// Fits, then the estimates that miss one way or another, then lost nodes, then no link.
int rank(Verdict v) {
  switch (v) {
    case Verdict::kFits: return 0;
    case Verdict::kNodeLost: return 2;
    case Verdict::kNoLink: return 3;
    default: return 1;
  }
}

}  // namespace

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kFits: return "fits";
    case Verdict::kMissesDeadline: return "misses_deadline";
    case Verdict::kNoLink: return "no_link";
    case Verdict::kBreaksOther: return "breaks_other";
    case Verdict::kWorstCase: return "worst_case";
    case Verdict::kBanned: return "banned";
    case Verdict::kNodeLost: return "node_lost";
  }
  return "?";
}

std::string format_ms(double us) {
  const double ms = us / 1000.0;
  char buf[48];
  // Whole to a twentieth of a millisecond: print whole (the profiles' figures are).
  if (std::fabs(ms - std::round(ms)) < 0.05) {
    const double whole = std::round(ms);
    std::snprintf(buf, sizeof buf, "%.0f", whole == 0 ? 0.0 : whole);  // no "-0"
  } else {
    std::snprintf(buf, sizeof buf, "%.1f", ms);
  }
  return buf;
}

bool Explanation::same_reason(const Explanation& o) const {
  if (node != o.node || policy_note != o.policy_note || candidates.size() != o.candidates.size() ||
      candidates_total != o.candidates_total)
    return false;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const NodeEstimate& a = candidates[i];
    const NodeEstimate& b = o.candidates[i];
    if (a.node != b.node || a.verdict != b.verdict || a.other != b.other ||
        a.banned_until != b.banned_until)
      return false;
    // alpha moves a little every window; a total that moved less than 1% of the deadline
    // is the same reason (a log line per window for it would be noise).
    const double tolerance = 0.01 * static_cast<double>(a.deadline.count());
    // Likewise the transfer: measured bandwidths feed the view every window, and noise
    // moves a transfer by microseconds. Only a link appearing or vanishing, or a transfer
    // that moved by the tolerance, is a new reason.
    if ((a.transfer == kNever) != (b.transfer == kNever)) return false;
    if (a.transfer != kNever &&
        std::fabs(static_cast<double>((a.transfer - b.transfer).count())) >= tolerance)
      return false;
    if (std::fabs(a.total_us - b.total_us) >= tolerance) return false;
  }
  return true;
}

void sort_candidates(Explanation& why) {
  auto& c = why.candidates;
  // A node without a link ranks as no link whatever else was found there (e.g. banned).
  auto rank_of = [](const NodeEstimate& e) {
    return e.verdict != Verdict::kNodeLost && e.transfer == kNever ? rank(Verdict::kNoLink) : rank(e.verdict);
  };
  std::sort(c.begin(), c.end(), [&rank_of](const NodeEstimate& a, const NodeEstimate& b) {
    const int ra = rank_of(a), rb = rank_of(b);
    if (ra != rb) return ra < rb;
    if (ra < 2 && a.margin_us() != b.margin_us()) return a.margin_us() < b.margin_us();
    return a.node < b.node;
  });
  why.candidates_total = c.size();
  if (c.size() > kMaxCandidates) c.resize(kMaxCandidates);
}

std::string describe_estimate(const Scenario& s, const TaskSpec& task, const NodeEstimate& e) {
  const std::string& name = s.nodes[e.node].name;
  if (e.verdict == Verdict::kNodeLost) return name + ": node lost (no answer from it)";
  // A banned node may also have no link (the check that bans comes first): say the latter.
  if (e.verdict == Verdict::kNoLink || e.transfer == kNever)
    return name + ": no link from " + s.nodes[task.source].name + " (no route, or the link cannot carry " +
           std::to_string(s.models[task.model].input_bytes) + " bytes in time)";
  std::string out = name + ": transfer " + format_ms(static_cast<double>(e.transfer.count())) +
                    " ms + queueing " + format_ms(e.queueing_us) + " ms + inference " +
                    format_ms(e.inference_us) + " ms + pre/post " + format_ms(e.pre_post_us) + " ms";
  if (e.alpha != 0) {
    char alpha[32];
    std::snprintf(alpha, sizeof alpha, "%.3g", e.alpha);
    out += " + correction " + format_ms(e.correction_us) + " ms (alpha " + alpha + ")";
  }
  const std::string deadline = format_ms(static_cast<double>(e.deadline.count()));
  out += " = " + format_ms(e.total_us) + " ms";
  if (e.margin_us() > 0) {
    // A margin under a twentieth of a millisecond would print as "0": give it in us.
    const std::string by = e.margin_us() < 50 ? std::to_string(static_cast<int64_t>(std::ceil(e.margin_us()))) + " us"
                                               : format_ms(e.margin_us()) + " ms";
    out += " > deadline " + deadline + " ms (misses by " + by;
    if (e.alone_us > static_cast<double>(e.deadline.count()))
      out += "; even alone there: " + format_ms(e.alone_us) + " ms";
    out += ")";
  } else
    out += " <= deadline " + deadline + " ms";
  const std::string other = e.other == kNone ? std::string("?") : s.tasks[e.other].name;
  switch (e.verdict) {
    case Verdict::kFits: out += ": fits"; break;
    case Verdict::kMissesDeadline: break;
    case Verdict::kBreaksOther:
      out += ", but it would break " + other + " there (node load " + percent(e.load, 0) +
             " of the accelerator > " + percent(e.capacity, 0) + ", the most at which " + other +
             " meets its deadline)";
      break;
    case Verdict::kWorstCase:
      if (e.other == kNone)
        out += ", but a lone job's worst case (behind a batch of another model) is " +
               format_ms(e.worst_case_us) + " ms > deadline " + deadline + " ms";
      else
        out += ", but its model would hold up " + other + " there: " + other + "'s lone-job worst case " +
               format_ms(e.worst_case_us) + " ms > its deadline " +
               format_ms(static_cast<double>(s.tasks[e.other].deadline.count())) + " ms";
      break;
    case Verdict::kBanned:
      out += "; banned there after an eviction until window " + std::to_string(e.banned_until);
      break;
    case Verdict::kNoLink:
    case Verdict::kNodeLost: break;
  }
  return out;
}

std::string describe(const Scenario& s, const Explanation& why) {
  if (why.candidates.empty()) return why.policy_note.empty() ? "no node to consider" : why.policy_note;
  const TaskSpec& task = s.tasks[why.task];
  std::string out;
  for (size_t i = 0; i < why.candidates.size(); ++i) {
    const NodeEstimate& e = why.candidates[i];
    if (i == 0)
      out += (why.node != kNone && e.node == why.node) ? "on " : "best node ";
    else
      out += "; ";
    out += describe_estimate(s, task, e);
  }
  if (why.candidates_total > why.candidates.size())
    out += "; " + std::to_string(why.candidates_total - why.candidates.size()) + " more node(s) further off";
  if (!why.policy_note.empty()) out += " (" + why.policy_note + ")";
  return out;
}

namespace {

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string number(const char* format, double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  if (std::string_view(buf) == "-0.000" || std::string_view(buf) == "-0.0000") return buf + 1;
  return buf;
}

std::string ms_json(double us) { return number("%.3f", us / 1000.0); }

std::string node_json(const Scenario& s, NodeIndex k) {
  return k == kNone ? std::string("null") : json_string(s.nodes[k].name);
}

}  // namespace

std::string to_json(const Scenario& s, const Explanation& why) {
  std::string out = "{\"task\":" + json_string(s.tasks[why.task].name) + ",\"node\":" + node_json(s, why.node) +
                    ",\"window\":" + std::to_string(why.window) + ",\"text\":" + json_string(describe(s, why));
  if (!why.policy_note.empty()) out += ",\"note\":" + json_string(why.policy_note);
  if (why.eviction) {
    const EvictionCause& e = *why.eviction;
    out += ",\"eviction\":{\"node\":" + node_json(s, e.node) + ",\"violator\":" +
           (e.violator == kNone ? std::string("null") : json_string(s.tasks[e.violator].name)) +
           ",\"miss_rate\":" + number("%.6f", e.miss_rate) + ",\"epsilon\":" + number("%.6f", e.epsilon) + "}";
  }
  out += ",\"candidates_total\":" + std::to_string(why.candidates_total) + ",\"candidates\":[";
  for (size_t i = 0; i < why.candidates.size(); ++i) {
    const NodeEstimate& c = why.candidates[i];
    if (i) out += ",";
    const bool linked = c.transfer != kNever;
    out += "{\"node\":" + node_json(s, c.node) + ",\"verdict\":" + json_string(to_string(c.verdict)) +
           ",\"transfer_ms\":" + (linked ? ms_json(static_cast<double>(c.transfer.count())) : "null") +
           ",\"queueing_ms\":" + ms_json(c.queueing_us) + ",\"inference_ms\":" + ms_json(c.inference_us) +
           ",\"pre_post_ms\":" + ms_json(c.pre_post_us) + ",\"alpha\":" + number("%.6f", c.alpha) +
           ",\"correction_ms\":" + ms_json(c.correction_us) + ",\"total_ms\":" +
           (linked ? ms_json(c.total_us) : "null") + ",\"alone_ms\":" + (linked ? ms_json(c.alone_us) : "null") + ",\"deadline_ms\":" +
           ms_json(static_cast<double>(c.deadline.count())) + ",\"margin_ms\":" +
           (linked ? ms_json(c.margin_us()) : "null") + ",\"load\":" + number("%.6f", c.load) +
           ",\"capacity\":" + number("%.6f", c.capacity);
    if (c.other != kNone) out += ",\"other\":" + json_string(s.tasks[c.other].name);
    if (c.verdict == Verdict::kWorstCase) out += ",\"worst_case_ms\":" + ms_json(c.worst_case_us);
    if (c.verdict == Verdict::kBanned) out += ",\"banned_until_window\":" + std::to_string(c.banned_until);
    out += "}";
  }
  return out + "]}";
}

}  // namespace coedge::policy
