// Model entries and profile-set files; see profile_reader.h for the contract.
#include "config/profile_reader.h"

#include <algorithm>
#include <limits>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include <yaml-cpp/eventhandler.h>

namespace coedge::config::internal {
namespace {

constexpr std::string_view kInlineKeys[] = {"name", "input_shape", "input_bytes", "exe_ms",
                                            "pre",  "post",        "source",      "backend"};
constexpr std::string_view kScenarioModelKeys[] = {"name", "input_shape", "input_bytes",
                                                   "exe_ms", "pre", "post", "source", "backend",
                                                   "from", "model"};
// In a profile set there is nothing to refer to and the source is the file itself.
constexpr std::string_view kProfileModelKeys[] = {"name", "input_shape", "input_bytes",
                                                  "exe_ms", "pre", "post", "backend"};
// The backends a profile can have been measured on (infer/make_backend.h's names).
constexpr std::string_view kMeasuredBackends[] = {"opencv", "torch"};
constexpr std::string_view kProfileSetKeys[] = {"profile_set", "description", "models"};

// Where each YAML document of a stream starts (its start, and its first node: the mark a
// second document is reported at), from yaml-cpp's event parser (load_document).
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;
  std::vector<YAML::Mark> first_nodes;
  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override { node(mark); }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& mark) {
    if (first_nodes.size() < marks.size()) first_nodes.push_back(mark);
  }
};

bool is_inline_key(std::string_view key) {
  for (std::string_view k : kInlineKeys)
    if (k == key && k != "name") return true;
  return false;
}

std::optional<std::vector<int64_t>> read_shape(const Field& f, Problems& problems) {
  if (!expect_list(f.value, f.mark(), f.path, problems)) return std::nullopt;
  if (f.value.size() == 0) {
    problems.add(f.mark(), f.path, "must list the input dimensions, e.g. [3, 640, 640]");
    return std::nullopt;
  }
  std::vector<int64_t> shape;
  for (size_t i = 0; i < f.value.size(); ++i) {
    const YAML::Node dim = f.value[i];
    const std::string path = index_path(f.path, i);
    const YAML::Mark mark = mark_or(dim, f.mark());
    std::optional<int64_t> v = read_int(dim, mark, path, problems);
    if (!v) return std::nullopt;
    if (*v <= 0) {
      problems.add(mark, path, "must be positive, got " + describe(dim));
      return std::nullopt;
    }
    shape.push_back(*v);
  }
  return shape;
}

std::optional<std::array<Duration, kMaxBatch>> read_exe_ms(const Field& f, Problems& problems) {
  if (!expect_list(f.value, f.mark(), f.path, problems)) return std::nullopt;
  if (f.value.size() != kMaxBatch) {
    problems.add(f.mark(), f.path,
                 "needs exactly " + std::to_string(kMaxBatch) +
                     " values (the whole-batch time in ms for batch 1.." +
                     std::to_string(kMaxBatch) + "), got " + std::to_string(f.value.size()));
    return std::nullopt;
  }
  std::array<Duration, kMaxBatch> exe{};
  for (size_t i = 0; i < exe.size(); ++i) {
    const YAML::Node v = f.value[i];
    const std::string path = index_path(f.path, i);
    const YAML::Mark mark = mark_or(v, f.mark());
    std::optional<Duration> d = read_ms(v, mark, path, problems);
    if (!d) return std::nullopt;
    if (d->count() <= 0) {
      problems.add(mark, path, "must be positive, got " + describe(v));
      return std::nullopt;
    }
    // A bigger batch can be cheaper per item but never cheaper in total; a profile that
    // says otherwise is a measurement mistake and would make batching look free.
    if (i > 0 && *d < exe[i - 1]) {
      problems.add(mark, path,
                   "batch times must be non-decreasing in total: ExeTime(" +
                       std::to_string(i + 1) + ")=" + format_ms_number(*d) + "ms < ExeTime(" +
                       std::to_string(i) + ")=" + format_ms_number(exe[i - 1]) + "ms");
      return std::nullopt;
    }
    exe[i] = *d;
  }
  return exe;
}

}  // namespace

const ModelProfile* ProfileSet::find(const std::string& model) const {
  for (const ModelProfile& m : models)
    if (m.name == model) return &m;
  return nullptr;
}

std::vector<std::string> ProfileSet::names() const {
  std::vector<std::string> out;
  for (const ModelProfile& m : models) out.push_back(m.name);
  return out;
}

ModelEntry read_model_entry(const YAML::Node& node, const YAML::Mark& mark,
                            const std::string& path, bool allow_reference,
                            Problems& problems) {
  ModelEntry entry;
  entry.mark = mark;
  const size_t problems_before = problems.count();
  if (!expect_map(node, mark, path, problems)) return entry;
  const std::span<const std::string_view> known =
      allow_reference ? std::span<const std::string_view>(kScenarioModelKeys)
                      : std::span<const std::string_view>(kProfileModelKeys);
  const Fields fields = read_fields(node, path, known, problems);

  const Field* from = nullptr;
  for (const Field& f : fields)
    if (f.key == "from") from = &f;
  entry.is_reference = from != nullptr;

  ModelProfile m;
  bool valid = true;
  bool has_shape = false, has_exe = false, has_bytes = false;
  const Field* model_field = nullptr;
  for (const Field& f : fields) {
    if (f.key == "name") {
      entry.name = read_name(f, problems);
      valid &= entry.name.has_value();
    } else if (entry.is_reference && is_inline_key(f.key)) {
      problems.add(f.key_node.Mark(), f.path,
                   "cannot be combined with 'from' (a model is either inline or taken from "
                   "a profile file); remove one of them");
      valid = false;
    } else if (f.key == "from") {
      std::optional<std::string> file = read_name(f, problems);
      entry.from = file.value_or("");
      entry.from_mark = f.mark();
      entry.from_path = f.path;
      valid &= file.has_value();
    } else if (f.key == "model") {
      model_field = &f;
      if (!entry.is_reference) {
        problems.add(f.key_node.Mark(), f.path,
                     "only goes with 'from' (the name of the model inside that profile file)");
        valid = false;
        continue;
      }
      std::optional<std::string> name = read_name(f, problems);
      entry.model_name = name.value_or("");
      entry.model_mark = f.mark();
      entry.model_path = f.path;
      valid &= name.has_value();
    } else if (f.key == "input_shape") {
      std::optional<std::vector<int64_t>> shape = read_shape(f, problems);
      has_shape = shape.has_value();
      if (shape) m.input_shape = std::move(*shape);
      valid &= has_shape;
    } else if (f.key == "input_bytes") {
      std::optional<int64_t> bytes = read_int(f, problems);
      if (bytes && *bytes <= 0) {
        problems.add(f.mark(), f.path, "must be positive, got " + describe(f.value));
        bytes.reset();
      }
      has_bytes = bytes.has_value();
      if (bytes) m.input_bytes = *bytes;
      valid &= has_bytes;
    } else if (f.key == "exe_ms") {
      std::optional<std::array<Duration, kMaxBatch>> exe = read_exe_ms(f, problems);
      has_exe = exe.has_value();
      if (exe) m.exe_time = *exe;
      valid &= has_exe;
    } else if (f.key == "pre" || f.key == "post") {
      std::optional<Duration> d = read_nonnegative_duration(f, problems);
      if (d) (f.key == "pre" ? m.pre_time : m.post_time) = *d;
      valid &= d.has_value();
    } else if (f.key == "source") {
      std::optional<std::string> text = read_text(f, problems);
      entry.source = text.value_or("");
      valid &= text.has_value();
    } else if (f.key == "backend") {
      const std::optional<std::string> read = read_text(f, problems);
      const std::string text = read.value_or("");
      const bool known = std::find(std::begin(kMeasuredBackends), std::end(kMeasuredBackends), text) !=
                         std::end(kMeasuredBackends);
      if (read && !known)
        problems.add(f.mark(), f.path, "unknown backend '" + text + "': a profile is measured on opencv or torch");
      if (known) m.backend = text;
      valid &= known;
    }
  }

  fields.require("name", mark, path, problems);
  if (entry.is_reference) {
    if (entry.name && !model_field) {
      entry.model_name = *entry.name;
      entry.model_mark = mark;
      entry.model_path = child_path(path, "name");
    }
    entry.valid = problems.count() == problems_before;
    return entry;
  }
  fields.require("input_shape", mark, path, problems);
  fields.require("exe_ms", mark, path, problems);
  if (!valid || !entry.name || !has_shape || !has_exe) return entry;

  m.name = *entry.name;
  if (!has_bytes) {
    // The default is one uint8 frame of the input shape: what a camera sends.
    int64_t bytes = 1;
    for (int64_t dim : m.input_shape) {
      if (bytes > std::numeric_limits<int64_t>::max() / dim) {
        problems.add(mark, child_path(path, "input_shape"),
                     "the product of the dimensions is too large for a frame size");
        return entry;
      }
      bytes *= dim;
    }
    m.input_bytes = bytes;
  }
  entry.model = std::move(m);
  entry.valid = true;
  return entry;
}

YAML::Node load_document(const std::string& text, Problems& problems) {
  // Counted with yaml-cpp's event parser, not YAML::LoadAll: in yaml-cpp 0.7 (Debian 12)
  // some malformed streams (a stray ',' outside any collection, say) make the parser
  // report an empty document at the same place forever without consuming anything, and
  // LoadAll collects them until memory runs out (yaml-cpp issue 1040, fixed upstream in
  // 0.8.1; found by fuzz/fuzz_scenario). Two documents are all we need to look at: a
  // second one that starts where the first did is that stuck parser, a syntax error.
  YAML::Node doc;
  try {
    DocumentStarts starts;
    std::istringstream in(text);
    YAML::Parser parser(in);
    for (int i = 0; i < 2 && parser.HandleNextDocument(starts); ++i) {
    }
    if (starts.marks.size() > 1 && starts.marks[1].pos == starts.marks[0].pos) {
      const YAML::Mark& at = starts.marks[1];
      const std::string what =
          at.pos >= 0 && static_cast<size_t>(at.pos) < text.size() ? " at '" + text.substr(at.pos, 1) + "'" : "";
      problems.add(at, "", "YAML syntax error: the text cannot be read on from here" + what +
                               " (a stray character outside any list or map?)");
      return YAML::Node();
    }
    if (starts.marks.size() > 1) {
      problems.add(starts.first_nodes.size() > 1 ? starts.first_nodes[1] : starts.marks[1], "",
                   "only one YAML document is allowed per file; a second one starts here "
                   "(after a '---')");
      return YAML::Node();
    }
    if (!starts.marks.empty()) doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    problems.add(e.mark, "", "YAML syntax error: " + e.msg);
    return YAML::Node();
  }
  if (doc.IsNull()) {
    problems.add(YAML::Mark::null_mark(), "", "the file is empty");
    return YAML::Node();
  }
  if (!doc.IsMap()) {
    problems.add(doc.Mark(), "", "the top level must be a map of fields (name: value lines), got " + describe(doc));
    return YAML::Node();
  }
  return doc;
}

Result<ProfileSet> parse_profile_set_text(const std::string& text, const std::string& file_name) {
  if (Status utf8 = check_utf8(text, file_name); !utf8.ok()) return utf8.error();
  Problems problems(file_name);
  try {
    const YAML::Node root = load_document(text, problems);
    if (problems.any()) return problems.error();
    ProfileSet set;
    set.path = file_name;
    const Fields fields = read_fields(root, "", kProfileSetKeys, problems);
    std::unordered_map<std::string, int> first_line;
    for (const Field& f : fields) {
      if (f.key == "profile_set") {
        set.name = read_name(f, problems).value_or("");
      } else if (f.key == "description") {
        (void)read_text(f, problems);
      } else if (f.key == "models") {
        if (!expect_list(f.value, f.mark(), f.path, problems)) continue;
        if (f.value.size() == 0) problems.add(f.mark(), f.path, "must list at least one model");
        for (size_t i = 0; i < f.value.size(); ++i) {
          const YAML::Node node = f.value[i];
          const std::string path = index_path(f.path, i);
          const YAML::Mark mark = mark_or(node, f.mark());
          ModelEntry entry = read_model_entry(node, mark, path, false, problems);
          if (!entry.name) continue;
          auto [it, fresh] = first_line.emplace(*entry.name, mark.line + 1);
          if (!fresh) {
            problems.add(mark, child_path(path, "name"),
                         "duplicate model name '" + *entry.name + "' (first at line " +
                             std::to_string(it->second) + ")");
            continue;
          }
          if (entry.model) {
            entry.model->profile_source = file_name;
            set.models.push_back(std::move(*entry.model));
          }
        }
      }
    }
    fields.require("profile_set", root.Mark(), "", problems);
    fields.require("models", root.Mark(), "", problems);
    if (problems.any()) return problems.error();
    return set;
  } catch (const std::exception& e) {
    // yaml-cpp calls are guarded by type checks; this is the last line of defence so
    // that no exception reaches the caller.
    return Error{ErrorCode::kInvalidInput, file_name + ": cannot read profile set: " + e.what()};
  }
}

Result<ProfileSet> load_profile_set_file(const std::string& path) {
  Result<std::string> text = read_file(path);
  if (!text) return text.error();
  return parse_profile_set_text(*text, path);
}

}  // namespace coedge::config::internal
