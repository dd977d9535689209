// A node's results on the ROS 2 bus (node/cluster/result_publisher.h): the stock worker's
// JSON as vision_msgs (boxes centred, class ids, scores, the header given), everything else
// refused with a message naming what differs (and nothing thrown), "the stock format" being
// exactly what stock-result.schema.json validates and what the stock worker writes; then,
// over DDS on loopback, results written by the agent's ResultLog reaching vision_msgs
// readers with the frame's stamp and frame_id, equal to the lines of results/<task>.jsonl,
// the results that are not published counted, from several threads at once.
#include "node/cluster/result_publisher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "node/stock_worker.h"

#include "../stock_worker_harness.h"

namespace coedge::node {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int64_t kStamp = 1'764'700'000'123'456'789;  // ns: the nanoseconds must survive

// ---- conversion (no DDS) ----

TEST(StockResultToRos, DetectionsBecomeCentredBoxesWithTheNameOrTheClassNumber) {
  // As the stock worker prints them (3-decimal scores, 1-decimal boxes, names or null), and
  // one class written 3.0, which JSON Schema's "integer" (the stock schema's) allows.
  const auto ros = stock_result_to_ros(
      R"({"detections":[{"class":2,"name":"car","score":0.871,"box":[412.0,230.5,96.2,61.0]},)"
      R"({"class":17,"name":null,"score":0.5,"box":[0.0,0.0,640.0,480.0]},)"
      R"({"class":3.0,"name":"","score":0.25,"box":[10.5,20.5,0.0,3.0]}]})",
      kStamp, "front_camera");
  ASSERT_TRUE(ros.ok()) << ros.error().message;
  ASSERT_NE(ros->detections, nullptr);
  EXPECT_EQ(ros->classification, nullptr);
  const net::Detection2DArray& a = *ros->detections;
  EXPECT_EQ(a.stamp_ns, kStamp);
  EXPECT_EQ(a.frame_id, "front_camera");
  ASSERT_EQ(a.detections.size(), 3u);

  ASSERT_EQ(a.detections[0].results.size(), 1u);
  EXPECT_EQ(a.detections[0].results[0].class_id, "car");
  EXPECT_DOUBLE_EQ(a.detections[0].results[0].score, 0.871);
  EXPECT_DOUBLE_EQ(a.detections[0].bbox.center_x, 412.0 + 96.2 / 2);
  EXPECT_DOUBLE_EQ(a.detections[0].bbox.center_y, 230.5 + 61.0 / 2);
  EXPECT_DOUBLE_EQ(a.detections[0].bbox.size_x, 96.2);
  EXPECT_DOUBLE_EQ(a.detections[0].bbox.size_y, 61.0);
  EXPECT_EQ(a.detections[0].id, "");

  EXPECT_EQ(a.detections[1].results[0].class_id, "17") << "no name: the class number as text";
  EXPECT_DOUBLE_EQ(a.detections[1].bbox.center_x, 320.0);
  EXPECT_DOUBLE_EQ(a.detections[1].bbox.center_y, 240.0);

  EXPECT_EQ(a.detections[2].results[0].class_id, "3") << "an empty name names nothing; 3.0 is JSON Schema's integer 3";
  EXPECT_DOUBLE_EQ(a.detections[2].bbox.center_x, 10.5) << "a zero-width box is centred on its edge";
  EXPECT_DOUBLE_EQ(a.detections[2].bbox.center_y, 22.0);
  EXPECT_DOUBLE_EQ(a.detections[2].bbox.size_x, 0.0);
}

TEST(StockResultToRos, BoxMathIsCornerPlusHalfTheSize) {
  struct Case {
    double x, y, w, h;
  };
  for (const Case c : {Case{0, 0, 1, 1}, Case{0.5, 1.5, 3, 5}, Case{1919.9, 1079.9, 0.1, 0.1}, Case{7, 9, 1e6, 3}}) {
    const nlohmann::json j = {{"detections", {{{"class", 0}, {"name", nullptr}, {"score", 1}, {"box", {c.x, c.y, c.w, c.h}}}}}};
    const auto ros = stock_result_to_ros(j.dump(), 0, "");
    ASSERT_TRUE(ros.ok()) << j.dump() << ": " << ros.error().message;
    const net::BoundingBox2D& b = ros->detections->detections.at(0).bbox;
    EXPECT_DOUBLE_EQ(b.center_x, c.x + c.w / 2) << j.dump();
    EXPECT_DOUBLE_EQ(b.center_y, c.y + c.h / 2) << j.dump();
    EXPECT_DOUBLE_EQ(b.size_x, c.w) << j.dump();
    EXPECT_DOUBLE_EQ(b.size_y, c.h) << j.dump();
  }
}

TEST(StockResultToRos, ATruncatedListKeepsItsItemsAndAnEmptyOneIsAnEmptyArray) {
  const auto cut = stock_result_to_ros(
      R"({"detections":[{"class":0,"name":"person","score":0.9,"box":[1.0,2.0,3.0,4.0]}],"truncated":true})", 5,
      "f");
  ASSERT_TRUE(cut.ok()) << cut.error().message;
  ASSERT_EQ(cut->detections->detections.size(), 1u);
  EXPECT_EQ(cut->detections->detections[0].results[0].class_id, "person");

  const auto top = stock_result_to_ros(R"({"top":[{"class":1,"name":"b","p":0.6}],"truncated":true})", 5, "f");
  ASSERT_TRUE(top.ok()) << top.error().message;
  EXPECT_EQ(top->classification->results.size(), 1u);

  // A frame with nothing in it is news too: an empty array, with its header.
  const auto none = stock_result_to_ros(R"({"detections":[]})", kStamp, "cam");
  ASSERT_TRUE(none.ok()) << none.error().message;
  ASSERT_NE(none->detections, nullptr);
  EXPECT_TRUE(none->detections->detections.empty());
  EXPECT_EQ(none->detections->stamp_ns, kStamp);
  EXPECT_EQ(none->detections->frame_id, "cam");
}

TEST(StockResultToRos, ClassificationIsItsTopClassesWithPAsScore) {
  const auto ros = stock_result_to_ros(
      R"({"top":[{"class":281,"name":"tabby","p":0.8123},{"class":285,"name":null,"p":0.1},{"class":0,"name":"","p":0.0001}]})",
      kStamp, "gate");
  ASSERT_TRUE(ros.ok()) << ros.error().message;
  EXPECT_EQ(ros->detections, nullptr);
  ASSERT_NE(ros->classification, nullptr);
  const net::Classification& c = *ros->classification;
  EXPECT_EQ(c.stamp_ns, kStamp);
  EXPECT_EQ(c.frame_id, "gate");
  ASSERT_EQ(c.results.size(), 3u);
  EXPECT_EQ(c.results[0].class_id, "tabby");
  EXPECT_DOUBLE_EQ(c.results[0].score, 0.8123);
  EXPECT_EQ(c.results[1].class_id, "285");
  EXPECT_DOUBLE_EQ(c.results[1].score, 0.1);
  EXPECT_EQ(c.results[2].class_id, "0");
  EXPECT_DOUBLE_EQ(c.results[2].score, 0.0001);
  const auto big = stock_result_to_ros(R"({"top":[{"class":1e20,"name":null,"p":0.5}]})", 0, "");
  ASSERT_TRUE(big.ok()) << big.error().message;
  EXPECT_EQ(big->classification->results.at(0).class_id, "100000000000000000000") << "its digits, not 1e+20";
}

std::string items(const char* item, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += std::string(i ? "," : "") + item;
  return out;
}

// Results that are not the stock format, each with (part of) what its refusal must say.
struct Refused {
  std::string json;
  std::string says;
};
const std::string kDet = R"({"class":1,"name":"a","score":0.5,"box":[1,2,3,4]})";
const std::string kTop = R"({"class":1,"name":"a","p":0.5})";

std::vector<Refused> refused_cases() {
  return {
      {"", "not JSON"},
      {"{\"detections\":[", "not JSON"},
      {"{\"detections\":[]} {}", "not JSON"},
      {"[1,2]", "not a JSON object"},
      {"{}", "neither \"detections\" nor \"top\""},
      {R"({"truncated":true})", "neither \"detections\" nor \"top\""},
      {R"({"detections":[],"top":[]})", "both"},
      // docs/WORKER_SDK.md's custom worker
      {R"({"top_class":8,"score":0.999713,"brightness":0.4779})", "unexpected key \"brightness\""},
      {R"({"detections":[],"model":"x"})", "unexpected key \"model\""},
      {R"({"detections":[],"truncated":false})", "result.truncated: false is not true"},
      {R"({"detections":{}})", "result.detections: not an array"},
      {R"({"top":"cat"})", "result.top: not an array"},
      {R"({"detections":[7]})", "result.detections[0]: 7 is not an object"},
      {R"({"detections":[)" + kDet + R"(,{"class":1,"name":"a","score":0.5}]})", "result.detections[1]: no \"box\""},
      {R"({"detections":[{"name":"a","score":0.5,"box":[1,2,3,4]}]})", "result.detections[0]: no \"class\""},
      {R"({"detections":[{"class":1,"score":0.5,"box":[1,2,3,4]}]})", "result.detections[0]: no \"name\""},
      {R"({"detections":[{"class":1,"name":"a","box":[1,2,3,4]}]})", "result.detections[0]: no \"score\""},
      {R"({"detections":[{"class":1,"name":"a","score":0.5,"box":[1,2,3,4],"id":"x"}]})", "unexpected key \"id\""},
      {R"({"detections":[{"class":-1,"name":"a","score":0.5,"box":[1,2,3,4]}]})", "detections[0].class: -1 is not an integer >= 0"},
      {R"({"detections":[{"class":1.5,"name":"a","score":0.5,"box":[1,2,3,4]}]})", "detections[0].class: 1.5"},
      {R"({"detections":[{"class":"1","name":"a","score":0.5,"box":[1,2,3,4]}]})", "detections[0].class: \"1\""},
      {R"({"detections":[{"class":-2.0,"name":"a","score":0.5,"box":[1,2,3,4]}]})", "detections[0].class: -2.0"},
      {R"({"detections":[{"class":1,"name":7,"score":0.5,"box":[1,2,3,4]}]})", "detections[0].name: 7 is neither"},
      {R"({"detections":[{"class":1,"name":"a","score":1.5,"box":[1,2,3,4]}]})", "detections[0].score: 1.5 is outside [0, 1]"},
      {R"({"detections":[{"class":1,"name":"a","score":"high","box":[1,2,3,4]}]})", "detections[0].score: \"high\" is not a number"},
      {R"({"detections":[{"class":1,"name":"a","score":0.5,"box":[1,2,3]}]})", "detections[0].box: an array of 3 items is not [x, y, w, h]"},
      {R"({"detections":[{"class":1,"name":"a","score":0.5,"box":[1,2,3,4,5]}]})", "detections[0].box:"},
      {R"({"detections":[{"class":1,"name":"a","score":0.5,"box":{"x":1}}]})", "detections[0].box:"},
      {R"({"detections":[{"class":1,"name":"a","score":0.5,"box":[1,2,-3,4]}]})", "detections[0].box[2]: -3 is not a number >= 0"},
      {R"({"detections":[{"class":1,"name":"a","score":0.5,"box":[1,null,3,4]}]})", "detections[0].box[1]: null is not a number"},
      {R"({"detections":[{"class":1,"name":"a","score":0.5,"box":[1e999,2,3,4]}]})", "not JSON"},  // overflows
      {"{\"detections\":[" + items(kDet.c_str(), 301) + "]}", "result.detections: 301 items, more than 300"},
      {"{\"top\":[" + items(kTop.c_str(), 6) + "]}", "result.top: 6 items, more than 5"},
      {R"({"top":[{"class":1,"name":"a"}]})", "result.top[0]: no \"p\""},
      {R"({"top":[{"class":1,"name":"a","p":2}]})", "result.top[0].p: 2 is outside [0, 1]"},
      {R"({"top":[{"class":1,"name":"a","p":0.5,"score":0.5}]})", "result.top[0]: unexpected key \"score\""},
      {R"({"top":[{"class":1,"name":"a","p":0.5},[]]})", "result.top[1]: an array of 0 items is not an object"},
  };
}

// A worker's 64 KiB of nesting: named by its size, never dumped (dump() recurses and would
// overflow the agent's stack).
TEST(StockResultToRos, DeepNestingIsRefusedWithoutRecursingIntoIt) {
  const int depth = 30000;
  const std::string json = "{\"detections\":[],\"truncated\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  const auto r = stock_result_to_ros(json, 1, "f");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("result.truncated: an array of 1 item is not true"), std::string::npos)
      << r.error().message;
}

TEST(StockResultToRos, AnythingElseIsRefusedNamingWhatDiffersAndNothingThrows) {
  for (const Refused& c : refused_cases()) {
    Result<RosResult> r = RosResult{};
    EXPECT_NO_THROW(r = stock_result_to_ros(c.json, kStamp, "f")) << c.json.substr(0, 200);
    ASSERT_FALSE(r.ok()) << c.json.substr(0, 200);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(r.error().message.find("not the stock result format"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << c.json.substr(0, 200) << "\n  says: " << r.error().message << "\n  expected: " << c.says;
  }
  // The limits themselves are the stock format's.
  EXPECT_TRUE(stock_result_to_ros("{\"detections\":[" + items(kDet.c_str(), 300) + "]}", 0, "").ok());
  EXPECT_TRUE(stock_result_to_ros("{\"top\":[" + items(kTop.c_str(), 5) + "]}", 0, "").ok());
}

// "The stock format" is docs/schema/stock-result.schema.json: for every case above, and for
// results in the format, the adapter takes exactly what the schema validates (Debian's
// python3-jsonschema, as tests/integration/validate_lines.py uses it). JSON that nlohmann
// does not parse is left out (Python reads 1e999 as infinity).
TEST(StockResultToRos, TakesExactlyWhatTheStockSchemaValidates) {
  std::vector<std::string> texts = {
      R"({"detections":[]})",
      R"({"top":[]})",
      R"({"detections":[],"truncated":true})",
      R"({"detections":[)" + kDet + "," + kDet + "]}",
      R"({"detections":[{"class":0,"name":null,"score":0,"box":[0,0,0,0]}]})",
      R"({"detections":[{"class":3.0,"name":"","score":1,"box":[0.5,0.5,1e6,2]}]})",
      R"({"top":[{"class":7,"name":null,"p":1.0}],"truncated":true})",
      R"({"top":[{"class":1e20,"name":null,"p":0.5}]})",
      "{\"detections\":[" + items(kDet.c_str(), 300) + "]}",
      "{\"top\":[" + items(kTop.c_str(), 5) + "]}",
  };
  for (const Refused& c : refused_cases()) {
    if (!nlohmann::json::parse(c.json, nullptr, false).is_discarded()) texts.push_back(c.json);
  }
  const fs::path file = fs::temp_directory_path() / ("coedge-stock-cases-" + std::to_string(getpid()) + ".jsonl");
  {
    std::ofstream out(file);
    for (const std::string& t : texts) out << nlohmann::json(t).dump() << "\n";  // each text as a JSON string
  }
  const std::string script =
      "import json, sys, jsonschema\n"
      "schema = json.load(open(sys.argv[1]))\n"
      "v = jsonschema.Draft202012Validator(schema)\n"
      "for line in open(sys.argv[2]):\n"
      "    print(1 if v.is_valid(json.loads(json.loads(line))) else 0)\n";
  const std::string command = "/usr/bin/python3 -c '" + script + "' " + COEDGE_SOURCE_DIR +
                              "/docs/schema/stock-result.schema.json " + file.string() + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string verdicts;
  for (int ch; (ch = std::fgetc(pipe)) != EOF;) {
    if (ch != '\n') verdicts += static_cast<char>(ch);
  }
  const int status = ::pclose(pipe);
  fs::remove(file);
  ASSERT_EQ(status, 0) << verdicts;
  ASSERT_EQ(verdicts.size(), texts.size()) << verdicts;
  size_t valid = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const bool schema_says = verdicts[i] == '1';
    valid += schema_says;
    EXPECT_EQ(stock_result_to_ros(texts[i], 0, "").ok(), schema_says)
        << texts[i].substr(0, 200) << (schema_says ? ": the schema takes it" : ": the schema refuses it");
  }
  EXPECT_EQ(valid, 10u) << "the cases in the format, and only they, are valid";
}

TEST(StockResultToRos, AValueInAMessageIsCutShort) {
  const std::string huge(5000, 'x');
  const auto r = stock_result_to_ros(R"({"detections":[{"class":1,"name":"a","score":")" + huge +
                                         R"(","box":[1,2,3,4]}]})",
                                     0, "");
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.error().message.size(), 200u) << r.error().message;
  const auto key = stock_result_to_ros("{\"detections\":[],\"" + huge + "\":1}", 0, "");
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.error().message.find("unexpected key \"xxx"), std::string::npos) << key.error().message;
  EXPECT_LT(key.error().message.size(), 200u) << key.error().message;
}

// The stock worker's post callback, as the SDK calls it (a 100x100 frame, no letterbox):
// its result text for `data` of `shape`.
std::string stock_post(const std::string& kind, int classes, bool labels, const std::vector<float>& data,
                       std::vector<int64_t> shape, size_t result_size = 64 * 1024) {
  testing::StockWorker worker(kind, classes, -1, -1, labels);
  if (worker.state == nullptr) return "";
  return worker.post_text(data, std::move(shape), result_size);
}

// The format the adapter reads is the one the stock worker writes: if the worker's output
// changes (a new key, another number format), this fails instead of results silently
// no longer reaching the bus.
TEST(StockResultToRos, TheStockWorkersOwnResultsConvert) {
  std::vector<float> rows;  // [cx, cy, w, h, objectness, p(class 0), p(class 1)]
  for (int i = 0; i < 40; ++i) {
    const float x = static_cast<float>(5 + (i % 10) * 10), y = static_cast<float>(5 + (i / 10) * 10);
    rows.insert(rows.end(), {x, y, 4, 6, 0.9f, i % 3 == 0 ? 0.9f : 0.0f, i % 3 == 0 ? 0.0f : 0.8f});
  }
  for (const bool labels : {true, false}) {
    for (const size_t size : {size_t{64 * 1024}, size_t{700}}) {
      const std::string text = stock_post("detection", 2, labels, rows, {40, 7}, size);
      const nlohmann::json j = nlohmann::json::parse(text);
      ASSERT_FALSE(j["detections"].empty()) << text;
      EXPECT_EQ(j.contains("truncated"), size < 1000) << text;
      const auto ros = stock_result_to_ros(text, 1, "f");
      ASSERT_TRUE(ros.ok()) << text << ": " << ros.error().message;
      ASSERT_EQ(ros->detections->detections.size(), j["detections"].size());
      for (size_t i = 0; i < j["detections"].size(); ++i) {
        const auto& item = j["detections"][i];
        const net::Detection2D& d = ros->detections->detections[i];
        const int cls = item["class"].get<int>();
        EXPECT_EQ(d.results.at(0).class_id, labels ? "class \"" + std::to_string(cls) + "\"" : std::to_string(cls));
        EXPECT_DOUBLE_EQ(d.results.at(0).score, item["score"].get<double>());
        EXPECT_DOUBLE_EQ(d.bbox.size_x, 4.0);
        EXPECT_DOUBLE_EQ(d.bbox.size_y, 6.0);
        // The worker's box is centred on the row's (cx, cy): the message's centre is that.
        EXPECT_DOUBLE_EQ(d.bbox.center_x, item["box"][0].get<double>() + 2.0);
        EXPECT_DOUBLE_EQ(d.bbox.center_y, item["box"][1].get<double>() + 3.0);
      }
    }
  }
  const std::string top = stock_post("classification", 6, true, {0, 5, 1, 0, 3, 0}, {6});
  const auto ros = stock_result_to_ros(top, 1, "f");
  ASSERT_TRUE(ros.ok()) << top << ": " << ros.error().message;
  const nlohmann::json j = nlohmann::json::parse(top);
  ASSERT_EQ(ros->classification->results.size(), j["top"].size());
  ASSERT_EQ(ros->classification->results.size(), 5u);
  EXPECT_EQ(ros->classification->results[0].class_id, "class \"1\"");
  EXPECT_DOUBLE_EQ(ros->classification->results[0].score, j["top"][0]["p"].get<double>());
}

TEST(ResultTopic, OneTopicPerTaskAndKindAndNoneForOtherKinds) {
  EXPECT_EQ(result_topic("det", "detection"), "/coedge/det/detections");
  EXPECT_EQ(result_topic("cls", "classification"), "/coedge/cls/classification");
  EXPECT_EQ(result_topic("seg", "segmentation"), "");
  EXPECT_EQ(result_topic("x", ""), "");
}

// ---- the publisher, over DDS on loopback ----

uint32_t test_domain() { return 1 + static_cast<uint32_t>(getpid()) % 200; }

std::unique_ptr<net::DdsDomain> loopback_domain() {
  net::DdsOptions o;
  o.domain = test_domain();
  o.interface_address = "127.0.0.1";
  o.peers = {"127.0.0.1"};
  auto d = net::DdsDomain::create(o);
  EXPECT_TRUE(d.ok()) << d.error().message;
  return d.ok() ? std::move(*d) : nullptr;
}

// Calls `done` until it returns true or 10 s pass; returns its last answer.
template <typename F>
bool poll_until(F done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

std::vector<nlohmann::json> lines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<nlohmann::json> out;
  for (std::string l; std::getline(in, l);) out.push_back(nlohmann::json::parse(l));
  return out;
}

// What a result line's stock "result" says, in the test's own words: class_id (name, else
// number), score and the box as given.
std::string class_id_of(const nlohmann::json& item) {
  return item["name"].is_string() && !item["name"].get<std::string>().empty() ? item["name"].get<std::string>()
                                                                              : std::to_string(item["class"].get<int>());
}

class ResultPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const std::string suffix = std::to_string(getpid()) + "_" + std::to_string(counter++);
    dir_ = fs::temp_directory_path() / ("coedge-result-publisher-" + suffix);
    fs::remove_all(dir_);
    // Unique task names: unique topics, whatever else runs on the domain.
    det_ = "det_" + suffix;
    cls_ = "cls_" + suffix;
    domain_ = loopback_domain();
    ASSERT_NE(domain_, nullptr);
  }
  void TearDown() override { fs::remove_all(dir_); }

  RunContext run() const {
    RunContext r;
    r.run_id = "run-1";
    r.node = "n";
    r.tasks = {det_, cls_};
    r.sensors = {"cam"};
    return r;
  }

  fs::path dir_;
  std::string det_, cls_;
  std::unique_ptr<net::DdsDomain> domain_;
};

TEST_F(ResultPublisherTest, ResultsReachTheBusWithTheFramesHeaderEqualToTheirLines) {
  auto det_reader = net::Detection2DArrayReader::create(*domain_, result_topic(det_, "detection"));
  ASSERT_TRUE(det_reader.ok()) << det_reader.error().message;
  auto cls_reader = net::ClassificationReader::create(*domain_, result_topic(cls_, "classification"));
  ASSERT_TRUE(cls_reader.ok()) << cls_reader.error().message;
  auto publisher = RosResultPublisher::create(*domain_, {det_, cls_}, {"detection", "classification"});
  ASSERT_TRUE(publisher.ok()) << publisher.error().message;
  {
    JobLedger ledger(2, 120s);
    auto log = ResultLog::open(dir_.string(), {det_, cls_}, ledger, run());
    ASSERT_TRUE(log.ok()) << log.error().message;
    (*log)->add_sink(**publisher);

    const TimePoint t0{};
    auto frame = [](int64_t stamp_ns, std::string frame_id, int64_t capture_unix_us) {
      FrameIdentity f;
      f.stamp_ns = stamp_ns;
      f.frame_id = std::move(frame_id);
      f.capture_unix_us = capture_unix_us;
      return f;
    };
    // det: a topic frame; a folder sensor's frame (no stamp: the capture time); a custom
    // JSON (not published); a job dropped after its result (published all the same).
    const uint64_t d1 = ledger.release(0, t0, t0 + 100ms, frame(kStamp, "front_camera", 1'764'700'000'123'456));
    const uint64_t d2 = ledger.release(0, t0, t0 + 100ms, frame(-1, "", 1'764'700'001'234'567));
    const uint64_t d3 = ledger.release(0, t0, t0 + 100ms, frame(kStamp + 1, "front_camera", 0));
    const uint64_t d4 = ledger.release(0, t0, t0 + 100ms, frame(kStamp + 2, "front_camera", 0));
    // cls: a topic frame; a detection result from a classification task (not published).
    const uint64_t c1 = ledger.release(1, t0, t0 + 100ms, frame(kStamp + 999'999'999, "gate/optical", 0));
    const uint64_t c2 = ledger.release(1, t0, t0 + 100ms, frame(kStamp, "gate", 0));
    ASSERT_TRUE((*log)->accept(0, d1,
                               R"({"detections":[{"class":2,"name":"car","score":0.871,"box":[412.0,230.5,96.2,61.0]},)"
                               R"({"class":17,"name":null,"score":0.333,"box":[0.0,1.5,20.0,10.0]}]})"));
    ASSERT_TRUE((*log)->accept(0, d2, R"({"detections":[]})"));
    ASSERT_TRUE((*log)->accept(0, d3, R"({"top_class":8,"score":0.999713,"brightness":0.4779})"));
    ASSERT_TRUE((*log)->accept(0, d4, R"({"detections":[{"class":0,"name":"person","score":0.5,"box":[1.0,2.0,3.0,4.0]}],"truncated":true})"));
    ASSERT_TRUE((*log)->accept(1, c1, R"({"top":[{"class":281,"name":"tabby","p":0.8123},{"class":9,"name":null,"p":0.1}]})"));
    ASSERT_TRUE((*log)->accept(1, c2, R"({"detections":[]})"));
    for (uint64_t job : {d1, d2, d3, c1, c2}) {
      auto record = ledger.done(job, JobRecord{}, t0 + 50ms);
      ASSERT_TRUE(record.has_value());
      (*log)->job_closed(*record);
    }
    auto dropped = ledger.drop(d4, DropCause::kWorkerCrash, t0 + 60ms);
    ASSERT_TRUE(dropped.has_value());
    (*log)->job_closed(*dropped);

    const RosResultPublisher::Counts dc = (*publisher)->counts(0), cc = (*publisher)->counts(1);
    EXPECT_EQ(dc.published, 3u);
    EXPECT_EQ(dc.not_stock, 1u);
    EXPECT_EQ(dc.failed, 0u);
    EXPECT_EQ(cc.published, 1u);
    EXPECT_EQ(cc.not_stock, 1u);
    EXPECT_EQ(cc.failed, 0u);
  }

  std::vector<net::Detection2DArray> dets;
  std::vector<net::Classification> clss;
  EXPECT_TRUE(poll_until([&] {
    for (auto& m : (*det_reader)->take()) dets.push_back(std::move(m));
    for (auto& m : (*cls_reader)->take()) clss.push_back(std::move(m));
    return dets.size() >= 3 && clss.size() >= 1;
  })) << dets.size() << " detection arrays, " << clss.size() << " classifications";
  std::this_thread::sleep_for(100ms);  // nothing more comes (the unpublished ones)
  for (auto& m : (*det_reader)->take()) dets.push_back(std::move(m));
  for (auto& m : (*cls_reader)->take()) clss.push_back(std::move(m));
  ASSERT_EQ(dets.size(), 3u);
  ASSERT_EQ(clss.size(), 1u);

  // Headers: the topic frame's own; the folder frame's capture time in ns and no frame_id.
  EXPECT_EQ(dets[0].stamp_ns, kStamp);
  EXPECT_EQ(dets[0].frame_id, "front_camera");
  EXPECT_EQ(dets[1].stamp_ns, int64_t{1'764'700'001'234'567} * 1000);
  EXPECT_EQ(dets[1].frame_id, "");
  EXPECT_EQ(dets[2].stamp_ns, kStamp + 2);
  EXPECT_EQ(clss[0].stamp_ns, kStamp + 999'999'999);
  EXPECT_EQ(clss[0].frame_id, "gate/optical");

  // The messages against the lines (the same jobs, in order, leaving out the unpublished).
  std::vector<nlohmann::json> det_lines;
  for (const auto& l : lines(dir_ / "results" / (det_ + ".jsonl"))) {
    if (l["result"].contains("detections")) det_lines.push_back(l);
  }
  ASSERT_EQ(det_lines.size(), dets.size());
  for (size_t m = 0; m < dets.size(); ++m) {
    const nlohmann::json& line = det_lines[m];
    if (line["frame"]["stamp_ns"].is_number()) {  // else the capture time (checked above)
      EXPECT_EQ(dets[m].stamp_ns, line["frame"]["stamp_ns"].get<int64_t>());
    }
    EXPECT_EQ(dets[m].frame_id, line["frame"]["frame_id"].is_string() ? line["frame"]["frame_id"].get<std::string>() : "");
    const auto& items = line["result"]["detections"];
    ASSERT_EQ(dets[m].detections.size(), items.size()) << line.dump();
    for (size_t i = 0; i < items.size(); ++i) {
      const net::Detection2D& d = dets[m].detections[i];
      const auto& box = items[i]["box"];
      ASSERT_EQ(d.results.size(), 1u);
      EXPECT_EQ(d.results[0].class_id, class_id_of(items[i]));
      EXPECT_DOUBLE_EQ(d.results[0].score, items[i]["score"].get<double>());
      EXPECT_DOUBLE_EQ(d.bbox.center_x, box[0].get<double>() + box[2].get<double>() / 2);
      EXPECT_DOUBLE_EQ(d.bbox.center_y, box[1].get<double>() + box[3].get<double>() / 2);
      EXPECT_DOUBLE_EQ(d.bbox.size_x, box[2].get<double>());
      EXPECT_DOUBLE_EQ(d.bbox.size_y, box[3].get<double>());
      EXPECT_EQ(d.id, "");
    }
  }
  EXPECT_EQ(det_lines[2]["outcome"], "dropped") << "published whatever the job's outcome";

  std::vector<nlohmann::json> cls_lines;
  for (const auto& l : lines(dir_ / "results" / (cls_ + ".jsonl"))) {
    if (l["result"].contains("top")) cls_lines.push_back(l);
  }
  ASSERT_EQ(cls_lines.size(), 1u);
  EXPECT_EQ(clss[0].stamp_ns, cls_lines[0]["frame"]["stamp_ns"].get<int64_t>());
  EXPECT_EQ(clss[0].frame_id, cls_lines[0]["frame"]["frame_id"].get<std::string>());
  const auto& top = cls_lines[0]["result"]["top"];
  ASSERT_EQ(clss[0].results.size(), top.size());
  for (size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(clss[0].results[i].class_id, class_id_of(top[i]));
    EXPECT_DOUBLE_EQ(clss[0].results[i].score, top[i]["p"].get<double>());
  }
}

TEST_F(ResultPublisherTest, ATaskOfAnotherKindGetsNoTopicAndItsResultsAreCounted) {
  auto publisher = RosResultPublisher::create(*domain_, {det_, "custom"}, {"detection", ""});
  ASSERT_TRUE(publisher.ok()) << publisher.error().message;
  JobRecord record;
  record.task = 1;
  record.id = 7;
  (*publisher)->on_result(record, R"({"detections":[]})");
  (*publisher)->on_result(record, R"({"anything":1})");
  EXPECT_EQ((*publisher)->counts(1).not_stock, 2u);
  EXPECT_EQ((*publisher)->counts(1).published, 0u);
  EXPECT_EQ((*publisher)->counts(0).published + (*publisher)->counts(0).not_stock, 0u) << "the other task untouched";
}

// vision_msgs has no mask type: a segmentation task gets no topic, the start log says why,
// and its (stock) results are counted, not published.
TEST_F(ResultPublisherTest, ASegmentationTaskIsNotPublishedAndSaysWhyOnce) {
  ::testing::internal::CaptureStderr();
  auto publisher = RosResultPublisher::create(*domain_, {"seg"}, {"segmentation"});
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(publisher.ok()) << publisher.error().message;
  EXPECT_NE(log.find("task seg: kind 'segmentation' has no ROS message (vision_msgs has no mask type)"),
            std::string::npos)
      << log;
  JobRecord record;
  record.task = 0;
  for (uint64_t id = 1; id <= 3; ++id) {
    record.id = id;
    (*publisher)->on_result(record, R"({"classes":[{"class":0,"name":null,"area":1.0}],"frame":[640,480]})");
  }
  EXPECT_EQ((*publisher)->counts(0).not_stock, 3u);
  EXPECT_EQ((*publisher)->counts(0).published, 0u);
}

// ResultLog calls its sinks under each task's own lock, so from several threads at once.
TEST_F(ResultPublisherTest, ResultsFromSeveralThreadsAreEachCountedOnce) {
  auto publisher = RosResultPublisher::create(*domain_, {det_, cls_}, {"detection", "classification"});
  ASSERT_TRUE(publisher.ok()) << publisher.error().message;
  constexpr int kThreads = 4, kEach = 50;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      JobRecord record;
      record.task = static_cast<uint32_t>(i % 2);
      record.frame.stamp_ns = kStamp;
      for (int k = 0; k < kEach; ++k) {
        record.id = static_cast<uint64_t>(i * kEach + k + 1);
        const bool stock = k % 2 == 0;
        (*publisher)->on_result(record, !stock             ? R"({"custom":true})"
                                        : record.task == 0 ? R"({"detections":[]})"
                                                           : R"({"top":[]})");
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (uint32_t task : {0u, 1u}) {
    const RosResultPublisher::Counts c = (*publisher)->counts(task);
    EXPECT_EQ(c.published, uint64_t{kThreads / 2 * kEach / 2}) << "task " << task;
    EXPECT_EQ(c.not_stock, uint64_t{kThreads / 2 * kEach / 2}) << "task " << task;
    EXPECT_EQ(c.failed, 0u);
  }
}

}  // namespace
}  // namespace coedge::node
