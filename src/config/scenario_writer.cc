// The scenario writer; see scenario_writer.h for the contract.
#include "config/scenario_writer.h"

#include <charconv>
#include <string_view>

#include "config/yaml_reader.h"
#include "core/result.h"

namespace coedge::config {
namespace {

// A plain (unquoted) scalar is kept only when YAML cannot read it as anything but the
// same string: starts with a letter or '_', has no spaces or YAML punctuation, and is not
// one of the words YAML 1.1 or 1.2 turn into booleans or null.
bool is_plain_safe(std::string_view s) {
  if (s.empty()) return false;
  const char first = s.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_'))
    return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == '/';
    if (!ok) return false;
  }
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (std::string_view word : {"true", "false", "null", "yes", "no", "on", "off", "y", "n"})
    if (lower == word) return false;
  return true;
}

class Writer {
 public:
  explicit Writer(size_t reserve) { out_.reserve(reserve); }

  Writer& raw(std::string_view s) {
    out_.append(s);
    return *this;
  }
  Writer& str(std::string_view s) {
    if (is_plain_safe(s)) return raw(s);
    out_.push_back('"');
    for (char c : s) {
      switch (c) {
        case '"': out_.append("\\\""); break;
        case '\\': out_.append("\\\\"); break;
        case '\n': out_.append("\\n"); break;
        case '\t': out_.append("\\t"); break;
        case '\r': out_.append("\\r"); break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            static constexpr char kHex[] = "0123456789abcdef";
            const auto u = static_cast<unsigned char>(c);
            out_.append("\\x").push_back(kHex[u >> 4]);
            out_.push_back(kHex[u & 15]);
          } else {
            out_.push_back(c);
          }
      }
    }
    out_.push_back('"');
    return *this;
  }
  template <typename T>
  Writer& num(T value) {
    // Shortest text that reads back to the same value (doubles round-trip exactly).
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    COEDGE_CHECK(ec == std::errc());
    out_.append(buf, end);
    return *this;
  }
  Writer& dur(Duration d) { return raw(format_duration(d)); }
  Writer& pair(std::string_view a, std::string_view b) {
    return raw("[").str(a).raw(", ").str(b).raw("]");
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// `with_source`: scenarios keep each model's provenance; a profile set is its own source.
void write_models(Writer& w, const std::vector<ModelProfile>& models, bool with_source) {
  w.raw("models:\n");
  for (const ModelProfile& m : models) {
    w.raw("  - name: ").str(m.name).raw("\n    input_shape: [");
    for (size_t i = 0; i < m.input_shape.size(); ++i) w.raw(i ? ", " : "").num(m.input_shape[i]);
    w.raw("]\n    input_bytes: ").num(m.input_bytes).raw("\n    exe_ms: [");
    for (size_t b = 0; b < m.exe_time.size(); ++b)
      w.raw(b ? ", " : "").raw(internal::format_ms_number(m.exe_time[b]));
    w.raw("]\n    pre: ").dur(m.pre_time).raw("\n    post: ").dur(m.post_time).raw("\n");
    if (!m.backend.empty()) w.raw("    backend: ").str(m.backend).raw("\n");
    // "inline" is what an absent source reads back as; anything else is provenance
    // worth keeping (e.g. the profile file the numbers were taken from).
    if (with_source && !m.profile_source.empty() && m.profile_source != "inline")
      w.raw("    source: ").str(m.profile_source).raw("\n");
  }
}

void write_network(Writer& w, const Scenario& s) {
  w.raw("network:\n  default_mbps: ").num(s.network.default_mbps);
  w.raw("\n  default_latency: ").dur(s.network.default_latency).raw("\n");
  bool any = false;
  for (NodeIndex a = 0; a < s.network.adjacency.size(); ++a) {
    for (const Link& link : s.network.adjacency[a]) {
      if (link.peer <= a) continue;  // each undirected link once, from its lower end
      COEDGE_CHECK(link.peer < s.nodes.size());
      if (!any) w.raw("  links:\n");
      any = true;
      w.raw("    - between: ").pair(s.nodes[a].name, s.nodes[link.peer].name);
      w.raw("\n      mbps: ").num(link.mbps).raw("\n      latency: ").dur(link.latency).raw("\n");
    }
  }
}

}  // namespace

std::string write_scenario_yaml(const Scenario& s) {
  // About 150 bytes per task and 60 per node or link: one allocation for most files.
  Writer w(4096 + 160 * s.tasks.size() + 64 * s.nodes.size() + 400 * s.models.size());
  w.raw("# A complete CoEdge scenario (see docs/SCENARIO_FORMAT.md); every value explicit.\n");
  w.raw("name: ").str(s.name).raw("\n");
  const RunSettings& run = s.run;
  w.raw("run:\n  duration: ").dur(run.duration).raw("\n  window: ").dur(run.window);
  w.raw("\n  seed: ").num(run.seed).raw("\n  release_jitter: ").dur(run.release_jitter);
  w.raw("\n  random_phase: ").raw(run.random_phase ? "true" : "false");
  w.raw("\n  exec_jitter: ").num(run.exec_jitter).raw("\n");
  write_models(w, s.models, true);
  w.raw("nodes:\n");
  for (const NodeSpec& n : s.nodes)
    w.raw("  - name: ").str(n.name).raw("\n    cpu_cores: ").num(n.cpu_cores).raw("\n");
  write_network(w, s);
  w.raw("tasks:\n");
  for (const TaskSpec& t : s.tasks) {
    COEDGE_CHECK(t.source < s.nodes.size() && t.model < s.models.size());
    w.raw("  - name: ").str(t.name).raw("\n    source: ").str(s.nodes[t.source].name);
    w.raw("\n    model: ").str(s.models[t.model].name).raw("\n    period: ").dur(t.period);
    w.raw("\n    deadline: ").dur(t.deadline).raw("\n    priority: ").num(t.priority);
    w.raw("\n    epsilon: ").num(t.epsilon).raw("\n");
    if (!t.topic.empty()) w.raw("    topic: ").str(t.topic).raw("\n");
  }
  if (!s.link_changes.empty()) {
    w.raw("events:\n");
    for (const LinkChange& e : s.link_changes) {
      COEDGE_CHECK(e.a < s.nodes.size() && e.b < s.nodes.size());
      w.raw("  - at: ").dur(e.at).raw("\n    link: ").pair(s.nodes[e.a].name, s.nodes[e.b].name);
      w.raw("\n    mbps: ").num(e.mbps).raw("\n");
    }
  }
  return w.take();
}

std::string write_profile_set_yaml(const std::string& set_name, const std::string& description,
                                   const std::vector<ModelProfile>& models,
                                   const std::string& notes) {
  Writer w(1024 + 400 * models.size() + notes.size());
  size_t start = 0;
  while (start < notes.size()) {
    size_t end = notes.find('\n', start);
    if (end == std::string::npos) end = notes.size();
    w.raw("# ").raw(std::string_view(notes).substr(start, end - start)).raw("\n");
    start = end + 1;
  }
  w.raw("profile_set: ").str(set_name).raw("\n");
  if (!description.empty()) w.raw("description: ").str(description).raw("\n");
  write_models(w, models, false);
  return w.take();
}

}  // namespace coedge::config
