// The stock worker's JSON as vision_msgs, and the sink that publishes it (see the header).
// The JSON is a worker's text: untrusted. It is converted only if it is exactly the stock
// format (docs/schema/stock-result.schema.json: the keys, types and ranges it allows, and
// nothing else), so that what reaches the bus always means what the stock worker means;
// anything else is kInvalidInput naming the first thing that differs. nlohmann's
// exceptions stop here.
#include "node/cluster/result_publisher.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <utility>

#include <nlohmann/json.hpp>

namespace coedge::node {

namespace {

using nlohmann::json;

constexpr const char* kDetection = "detection";
constexpr const char* kClassification = "classification";
// The stock format's list limits (stock-result.schema.json's maxItems).
constexpr size_t kMaxDetections = 300;
constexpr size_t kMaxTop = 5;
// A failed write is logged for the first few of a task, then every this many.
constexpr uint64_t kLogFirst = 20;
constexpr uint64_t kLogEvery = 1000;

Error not_stock(const std::string& what) {
  return Error{ErrorCode::kInvalidInput, "not the stock result format: " + what};
}

// A value for a message, cut short: the text is a worker's and may be long. Arrays and
// objects are only named with their size: dump() recurses, and a worker's 64 KiB of
// nesting would overflow the stack.
std::string shown(const json& value) {
  if (value.is_structured()) {
    return std::string("an ") + (value.is_array() ? "array" : "object") + " of " + std::to_string(value.size()) +
           (value.size() == 1 ? " item" : " items");
  }
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

// Checks that `object` has only `allowed` keys (the schema's additionalProperties: false).
Status only_keys(const json& object, std::initializer_list<const char*> allowed, const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) return not_stock(where + ": unexpected key " + shown(json(key)));
  }
  return Ok{};
}

const json* required(const json& object, const char* key, const std::string& where, Error& error) {
  const auto it = object.find(key);
  if (it == object.end()) {
    error = not_stock(where + ": no \"" + key + "\"");
    return nullptr;
  }
  return &*it;
}

// A number in [0, 1] (`at_most_one`) or in [0, inf): the stock format's scores and pixels.
Result<double> number(const json& value, bool at_most_one, const std::string& where) {
  if (!value.is_number()) return not_stock(where + ": " + shown(value) + " is not a number");
  const double v = value.get<double>();
  if (!std::isfinite(v) || v < 0 || (at_most_one && v > 1)) {
    return not_stock(where + ": " + shown(value) + (at_most_one ? " is outside [0, 1]" : " is not a number >= 0"));
  }
  return v;
}

// vision_msgs' class_id of one item: its "name" when it has one (a non-empty string), else
// its "class" number as text. Checks both keys.
Result<std::string> class_id(const json& item, const std::string& where) {
  Error error;
  const json* cls = required(item, "class", where, error);
  if (!cls) return error;
  // nlohmann reads a JSON integer >= 0 as unsigned; JSON Schema's "integer" (the stock
  // schema's) also takes a number with a zero fraction (2.0, 1e20): its exact digits.
  std::string digits;
  if (cls->is_number_unsigned()) {
    digits = std::to_string(cls->get<uint64_t>());
  } else if (const double v = cls->is_number_float() ? cls->get<double>() : -1; v >= 0 && v == std::floor(v)) {
    char text[320];  // DBL_MAX has 309 digits
    std::snprintf(text, sizeof text, "%.0f", v + 0.0);  // + 0.0: -0.0 is "0", not "-0"
    digits = text;
  } else {
    return not_stock(where + ".class: " + shown(*cls) + " is not an integer >= 0");
  }
  const json* name = required(item, "name", where, error);
  if (!name) return error;
  if (!name->is_string() && !name->is_null()) {
    return not_stock(where + ".name: " + shown(*name) + " is neither a string nor null");
  }
  // An empty name (an empty line in the labels file) names nothing: the number says more.
  if (name->is_string() && !name->get_ref<const std::string&>().empty()) return name->get<std::string>();
  return digits;
}

Result<net::Detection2D> detection(const json& item, const std::string& where) {
  if (!item.is_object()) return not_stock(where + ": " + shown(item) + " is not an object");
  if (Status s = only_keys(item, {"class", "name", "score", "box"}, where); !s) return s.error();
  Result<std::string> id = class_id(item, where);
  if (!id) return id.error();
  Error error;
  const json* score = required(item, "score", where, error);
  if (!score) return error;
  Result<double> s = number(*score, true, where + ".score");
  if (!s) return s.error();
  const json* box = required(item, "box", where, error);
  if (!box) return error;
  if (!box->is_array() || box->size() != 4) {
    return not_stock(where + ".box: " + shown(*box) + " is not [x, y, w, h]");
  }
  double v[4];
  for (size_t i = 0; i < 4; ++i) {
    Result<double> n = number((*box)[i], false, where + ".box[" + std::to_string(i) + "]");
    if (!n) return n.error();
    v[i] = *n;
  }
  net::Detection2D d;
  d.results.push_back(net::ObjectHypothesis{std::move(*id), *s});
  // [x, y, w, h] is the top-left corner and the size; a BoundingBox2D is centred.
  d.bbox.center_x = v[0] + v[2] / 2;
  d.bbox.center_y = v[1] + v[3] / 2;
  d.bbox.size_x = v[2];
  d.bbox.size_y = v[3];
  return d;
}

Result<net::ObjectHypothesis> top_class(const json& item, const std::string& where) {
  if (!item.is_object()) return not_stock(where + ": " + shown(item) + " is not an object");
  if (Status s = only_keys(item, {"class", "name", "p"}, where); !s) return s.error();
  Result<std::string> id = class_id(item, where);
  if (!id) return id.error();
  Error error;
  const json* p = required(item, "p", where, error);
  if (!p) return error;
  Result<double> v = number(*p, true, where + ".p");
  if (!v) return v.error();
  return net::ObjectHypothesis{std::move(*id), *v};
}

Result<RosResult> convert(std::string_view text, int64_t stamp_ns, const std::string& frame_id) {
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return not_stock("not JSON");
  if (!doc.is_object()) return not_stock("not a JSON object");
  if (Status s = only_keys(doc, {"detections", "top", "truncated"}, "result"); !s) return s.error();
  if (const auto t = doc.find("truncated"); t != doc.end() && *t != json(true)) {
    return not_stock("result.truncated: " + shown(*t) + " is not true");
  }
  const auto dets = doc.find("detections");
  const auto top = doc.find("top");
  if ((dets == doc.end()) == (top == doc.end())) {
    return not_stock(dets == doc.end() ? "result: neither \"detections\" nor \"top\""
                                       : "result: both \"detections\" and \"top\"");
  }
  RosResult out;
  if (dets != doc.end()) {
    if (!dets->is_array()) return not_stock("result.detections: not an array");
    if (dets->size() > kMaxDetections) {
      return not_stock("result.detections: " + std::to_string(dets->size()) + " items, more than " +
                       std::to_string(kMaxDetections));
    }
    auto array = std::make_unique<net::Detection2DArray>();
    array->stamp_ns = stamp_ns;
    array->frame_id = frame_id;
    array->detections.reserve(dets->size());
    for (size_t i = 0; i < dets->size(); ++i) {
      Result<net::Detection2D> d = detection((*dets)[i], "result.detections[" + std::to_string(i) + "]");
      if (!d) return d.error();
      array->detections.push_back(std::move(*d));
    }
    out.detections = std::move(array);
  } else {
    if (!top->is_array()) return not_stock("result.top: not an array");
    if (top->size() > kMaxTop) {
      return not_stock("result.top: " + std::to_string(top->size()) + " items, more than " + std::to_string(kMaxTop));
    }
    auto classification = std::make_unique<net::Classification>();
    classification->stamp_ns = stamp_ns;
    classification->frame_id = frame_id;
    for (size_t i = 0; i < top->size(); ++i) {
      Result<net::ObjectHypothesis> h = top_class((*top)[i], "result.top[" + std::to_string(i) + "]");
      if (!h) return h.error();
      classification->results.push_back(std::move(*h));
    }
    out.classification = std::move(classification);
  }
  return out;
}

}  // namespace

std::string result_topic(const std::string& task, const std::string& kind) {
  if (kind == kDetection) return "/coedge/" + task + "/detections";
  if (kind == kClassification) return "/coedge/" + task + "/classification";
  return "";
}

Result<RosResult> stock_result_to_ros(std::string_view json_text, int64_t stamp_ns, const std::string& frame_id) {
  try {
    return convert(json_text, stamp_ns, frame_id);
  } catch (const nlohmann::json::exception& e) {  // not expected: every access is checked first
    return not_stock(std::string("JSON error: ") + e.what());
  }
}

// ---- RosResultPublisher ----

struct RosResultPublisher::Impl {
  struct Task {
    std::string name, kind, topic;
    std::unique_ptr<net::Detection2DArrayWriter> detections;  // at most one of the two
    std::unique_ptr<net::ClassificationWriter> classification;
    std::atomic<uint64_t> published{0}, not_stock{0}, failed{0};
  };
  std::vector<std::unique_ptr<Task>> tasks;
};

namespace {

// ROS 2 accepts a topic name token only of [A-Za-z0-9_], not starting with a digit; CoEdge's
// task names may also hold '.' and '-' (node_config_loader's is_safe_name). DDS itself
// takes any name, so such a topic works for DDS peers, but `ros2 topic echo` refuses it.
bool is_ros_token(const std::string& name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<RosResultPublisher>> RosResultPublisher::create(net::DdsDomain& domain,
                                                                      const std::vector<std::string>& tasks,
                                                                      const std::vector<std::string>& kinds) {
  COEDGE_CHECK(tasks.size() == kinds.size());
  auto impl = std::make_unique<Impl>();
  for (size_t i = 0; i < tasks.size(); ++i) {
    auto t = std::make_unique<Impl::Task>();
    t->name = tasks[i];
    t->kind = kinds[i];
    t->topic = result_topic(tasks[i], kinds[i]);
    if (t->topic.empty()) {
      // A model the stock worker does not run (its own worker's kind), or a segmentation
      // model (vision_msgs has no mask or class-area message): nothing to publish as. Its
      // results stay in RUN_DIR/results, and count as not_stock here.
      std::fprintf(stderr,
                   "coedge node: task %s: kind '%s' has no ROS message%s; its results are not published on DDS\n",
                   t->name.c_str(), t->kind.c_str(),
                   t->kind == "segmentation" ? " (vision_msgs has no mask type)" : "");
    } else {
      if (!is_ros_token(t->name)) {
        std::fprintf(stderr,
                     "coedge node: task %s: results on DDS topic rt%s; ROS 2 tools refuse that name "
                     "(a task name of letters, digits and '_', not starting with a digit, avoids this)\n",
                     t->name.c_str(), t->topic.c_str());
      }
      Status created = Ok{};
      if (t->kind == kDetection) {
        auto w = net::Detection2DArrayWriter::create(domain, t->topic);
        if (w) t->detections = std::move(*w);
        else created = w.error();
      } else {
        auto w = net::ClassificationWriter::create(domain, t->topic);
        if (w) t->classification = std::move(*w);
        else created = w.error();
      }
      if (!created) {
        return Error{created.error().code,
                     "task " + t->name + ": the writer of its results on " + t->topic + ": " + created.error().message};
      }
    }
    impl->tasks.push_back(std::move(t));
  }
  return std::unique_ptr<RosResultPublisher>(new RosResultPublisher(std::move(impl)));
}

RosResultPublisher::RosResultPublisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RosResultPublisher::~RosResultPublisher() = default;

void RosResultPublisher::on_result(const JobRecord& record, std::string_view result) {
  COEDGE_CHECK(record.task < impl_->tasks.size());
  Impl::Task& t = *impl_->tasks[record.task];
  // A custom worker writes the same kind of thing for every job: say why once, count the rest.
  auto skip = [&](const std::string& why) {
    if (t.not_stock.fetch_add(1, std::memory_order_relaxed) == 0) {
      std::fprintf(stderr,
                   "coedge node: task %s: job %llu's result not published on DDS (%s); further such results "
                   "of this task are counted, not logged\n",
                   t.name.c_str(), static_cast<unsigned long long>(record.id), why.c_str());
    }
  };
  if (!t.detections && !t.classification) {
    skip("kind '" + t.kind + "' has no ROS message");
    return;
  }
  // The frame's own header when it came from a topic; else the capture's wall clock.
  const int64_t stamp_ns = record.frame.stamp_ns >= 0       ? record.frame.stamp_ns
                           : record.frame.capture_unix_us > 0 ? record.frame.capture_unix_us * 1000
                                                              : 0;
  Result<RosResult> ros = stock_result_to_ros(result, stamp_ns, record.frame.frame_id);
  if (!ros) {
    skip(ros.error().message);
    return;
  }
  Status written = Ok{};
  if (t.detections) {
    if (!ros->detections) return skip("a classification result (\"top\") from a detection task");
    written = t.detections->write(*ros->detections);
  } else {
    if (!ros->classification) return skip("a detection result (\"detections\") from a classification task");
    written = t.classification->write(*ros->classification);
  }
  if (written) {
    t.published.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint64_t n = t.failed.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n <= kLogFirst || n % kLogEvery == 0) {
    std::fprintf(stderr, "coedge node: task %s: job %llu's result not published on %s: %s%s\n", t.name.c_str(),
                 static_cast<unsigned long long>(record.id), t.topic.c_str(), written.error().message.c_str(),
                 n == kLogFirst ? " (further failures of this task reported every 1000th)" : "");
  }
}

RosResultPublisher::Counts RosResultPublisher::counts(uint32_t task) const {
  COEDGE_CHECK(task < impl_->tasks.size());
  const Impl::Task& t = *impl_->tasks[task];
  Counts c;
  c.published = t.published.load(std::memory_order_relaxed);
  c.not_stock = t.not_stock.load(std::memory_order_relaxed);
  c.failed = t.failed.load(std::memory_order_relaxed);
  return c;
}

}  // namespace coedge::node
