// InferenceEngine over FakeModels (a Model whose forward pass writes, for item i of a batch
// of b, {sum of input item i, b, i}, advances a ManualClock by the model's profiled
// ExeTime(b), and fails on demand) and a sink that records every call in one event log
// shared with the models. Covers: inputs of several tasks of one model run as one batch
// and each job receives its own slice of the output (the values prove which input item it
// came from); different models run as separate batches, earliest deadline first; every
// submitted input ends in exactly one dropped() or output() and exactly one release();
// a batch's inputs are released before its forward pass; a job that cannot make its
// deadline is dropped with kDeadline (coedge) while edf runs it late; malformed inputs
// (wrong element count, no data, duplicate id, unknown model) are dropped at once with
// kInferenceError and released; a failing forward pass or an output without the batch's
// items drops the whole batch with kInferenceError; edf and fixed run batch 1 in their
// order; step() returns the scheduler's wake_at when nothing runs (TimePoint::max() when
// idle); drop_all(kShutdown) drops and releases everything queued; a model not loaded
// (set_model(m, nullptr)) ends its inputs as kNotReady; a segmentation model (output
// [N, C, H, W]) runs through Model::run_argmax (the backend's forward_argmax, whether its
// own or the default argmax over forward's logits) and each job gets its class ids as
// bytes, with no float item. Time is a ManualClock; nothing sleeps.
#include "node/core/inference_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <random>

#include "../../scenario_builder.h"

namespace coedge::node {
namespace {

using std::chrono::milliseconds;
using std::chrono::microseconds;

constexpr int64_t kItemElements = 4;  // input item [2, 2]

struct Event {
  enum Kind { kDropped, kOutput, kRelease, kForward } kind;
  uint64_t token = 0;  // the input's token; for kForward, the batch size
  uint64_t id = 0;
  DropCause reason = DropCause::kNone;
  TimePoint at{};
};

infer::ModelInfo fake_info() {
  infer::ModelInfo info;
  info.ir_version = 8;
  info.producer = "test";
  info.inputs.push_back({"x", 1, {-1, 2, 2}});
  info.outputs.push_back({"y", 1, {-1, 3}});
  return info;
}

class FakeModel final : public infer::Model {
 public:
  FakeModel(std::string path, const ModelProfile& profile, ManualClock& clock,
            std::vector<Event>& log)
      : infer::Model(std::move(path), fake_info()), profile_(profile), clock_(clock), log_(log) {}

  bool fail_next = false;        // the next forward pass returns an Error
  bool wrong_batch_axis = false;  // the next output has b + 1 items
  bool short_data = false;        // the next output claims [b, 3] but holds 3 floats
  std::vector<int64_t> batches;  // the batch size of every forward pass

 protected:
  Result<infer::Tensor> forward(const infer::Tensor& input) override {
    const int64_t b = input.shape[0];
    batches.push_back(b);
    log_.push_back({Event::kForward, static_cast<uint64_t>(b), 0, DropCause::kNone, clock_.now()});
    clock_.advance(profile_.exe(static_cast<int>(b)));
    if (fail_next) {
      fail_next = false;
      return Error{ErrorCode::kIo, path() + ": the backend failed"};
    }
    infer::Tensor out = infer::Tensor::zeros({b, 3});
    for (int64_t i = 0; i < b; ++i) {
      float sum = 0;
      for (float v : input.item(i)) sum += v;
      auto item = out.item(i);
      item[0] = sum;
      item[1] = static_cast<float>(b);
      item[2] = static_cast<float>(i);
    }
    if (wrong_batch_axis) {
      wrong_batch_axis = false;
      out = infer::Tensor::zeros({b + 1, 3});
    }
    if (short_data) {
      short_data = false;
      out.data.resize(3);
    }
    return out;
  }

 private:
  const ModelProfile& profile_;
  ManualClock& clock_;
  std::vector<Event>& log_;
};

struct Output {
  uint64_t token = 0, id = 0;
  std::vector<float> item;
  std::vector<uint8_t> labels;  // a segmentation model's item
  std::vector<int64_t> item_shape;
  int batch = 0;
  TimePoint infer_start{}, infer_end{};
};

class RecordingSink final : public EngineSink {
 public:
  explicit RecordingSink(std::vector<Event>& log) : log_(log) {}
  bool copy_values = true;  // off: do not read the output's items
  std::vector<Output> outputs;
  std::map<uint64_t, int> ended, released;  // by token
  std::map<uint64_t, DropCause> reasons;    // by token, for dropped inputs

  void dropped(const node::EngineInput& input, DropCause reason, TimePoint now) override {
    log_.push_back({Event::kDropped, input.token, input.job.id, reason, now});
    ++ended[input.token];
    reasons[input.token] = reason;
  }
  void output(const node::EngineOutput& out) override {
    ASSERT_NE(out.input, nullptr);
    log_.push_back({Event::kOutput, out.input->token, out.input->job.id, DropCause::kNone,
                    out.infer_end});
    ++ended[out.input->token];
    Output o;
    o.token = out.input->token;
    o.id = out.input->job.id;
    if (copy_values) o.item.assign(out.item.begin(), out.item.end());
    if (copy_values) o.labels.assign(out.labels.begin(), out.labels.end());
    o.item_shape.assign(out.item_shape.begin(), out.item_shape.end());
    o.batch = out.batch;
    o.infer_start = out.infer_start;
    o.infer_end = out.infer_end;
    outputs.push_back(std::move(o));
  }
  void release(const node::EngineInput& input) override {
    log_.push_back({Event::kRelease, input.token, input.job.id, DropCause::kNone, TimePoint{}});
    ++released[input.token];
  }

  const Output* output_of(uint64_t token) const {
    for (const Output& o : outputs)
      if (o.token == token) return &o;
    return nullptr;
  }

 private:
  std::vector<Event>& log_;
};

// m0: ExeTime(b) = 10 + (b - 1) ms; m1: 20 + 2 (b - 1) ms. Tasks a, b on m0; c on m1.
Scenario two_model_scenario() {
  return testing::ScenarioBuilder()
      .node("n")
      .model(testing::make_model("m0", 10, 1))
      .model(testing::make_model("m1", 20, 2))
      .task("a", "n", "m0", 100, /*priority=*/0)
      .task("b", "n", "m0", 100, /*priority=*/5)
      .task("c", "n", "m1", 100, /*priority=*/1)
      .build();
}

class InferenceEngineTest : public ::testing::Test {
 protected:
  void build(std::string_view scheduler, Scenario scenario = two_model_scenario()) {
    scenario_ = std::move(scenario);
    models_.clear();
    std::vector<infer::Model*> models;
    for (const ModelProfile& p : scenario_.models) {
      models_.push_back(std::make_unique<FakeModel>(p.name + ".onnx", p, clock_, log_));
      models.push_back(models_.back().get());
    }
    auto spec = policy::SchedulerSpec::parse(scheduler);
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    engine_ = std::make_unique<node::InferenceEngine>(scenario_, policy::make_local_scheduler(*spec, scenario_),
                                                std::move(models), sink_, clock_);
  }

  struct Submit {
    uint32_t task = 0;
    Duration deadline = milliseconds(100);  // relative to now
    float value = 1;                         // every element of the item
    uint64_t id = 0;                         // 0: the next fresh id
    int64_t elements = kItemElements;
    std::optional<ModelIndex> model = std::nullopt;  // default: the task's
    bool null_data = false;
  };

  // Returns the input's token.
  uint64_t submit(const Submit& s) {
    buffers_.emplace_back(static_cast<size_t>(std::max<int64_t>(s.elements, 0)), s.value);
    node::EngineInput in;
    in.job.id = s.id != 0 ? s.id : next_id_++;
    in.job.task = s.task;
    in.job.model = s.model ? *s.model : scenario_.tasks[s.task].model;
    in.job.release = clock_.now();
    in.job.deadline = clock_.now() + s.deadline;
    in.job.priority = scenario_.tasks[s.task].priority;
    in.data = s.null_data ? nullptr : buffers_.back().data();
    in.elements = static_cast<uint64_t>(s.elements);
    in.pre_start = clock_.now();
    in.pre_end = clock_.now();
    in.token = next_token_++;
    const uint64_t token = in.token;
    ids_[token] = in.job.id;
    engine_->submit(std::move(in));
    return token;
  }
  uint64_t id_of(uint64_t token) const { return ids_.at(token); }

  // Steps until nothing runs and nothing waits for a wake-up (bounded).
  void run_until_idle() {
    for (int i = 0; i < 1000; ++i) {
      const TimePoint wake = engine_->step();
      if (engine_->ran_batch()) continue;
      if (wake == TimePoint::max()) return;
      clock_.set(std::max(wake, clock_.now()));
    }
    FAIL() << "the engine never went idle";
  }

  size_t index_of(Event::Kind kind, uint64_t token) const {
    for (size_t i = 0; i < log_.size(); ++i)
      if (log_[i].kind == kind && (kind == Event::kForward || log_[i].token == token)) return i;
    return log_.size();
  }

  // Every input submitted so far ended once and was released once.
  void expect_each_ended_and_released_once() const {
    for (uint64_t token = 1; token < next_token_; ++token) {
      EXPECT_EQ(sink_.ended.count(token) ? sink_.ended.at(token) : 0, 1) << "token " << token;
      EXPECT_EQ(sink_.released.count(token) ? sink_.released.at(token) : 0, 1) << "token " << token;
    }
  }

  ManualClock clock_;
  std::vector<Event> log_;
  RecordingSink sink_{log_};
  Scenario scenario_;
  std::vector<std::unique_ptr<FakeModel>> models_;
  std::deque<std::vector<float>> buffers_;  // the inputs' memory; stable addresses
  std::map<uint64_t, uint64_t> ids_;        // token -> job id
  uint64_t next_id_ = 1, next_token_ = 1;
  std::unique_ptr<node::InferenceEngine> engine_;  // last: destroyed first
};

TEST_F(InferenceEngineTest, InputsOfSeveralTasksOfOneModelRunAsOneBatch) {
  build("coedge");
  const TimePoint t0 = clock_.now();
  // Deadlines decide the order inside the batch: b(90) b(95) a(100) a(110).
  const uint64_t a1 = submit({.task = 0, .deadline = milliseconds(100), .value = 1});
  const uint64_t b1 = submit({.task = 1, .deadline = milliseconds(90), .value = 2});
  const uint64_t a2 = submit({.task = 0, .deadline = milliseconds(110), .value = 3});
  const uint64_t b2 = submit({.task = 1, .deadline = milliseconds(95), .value = 4});
  EXPECT_EQ(engine_->queued(), 4u);

  EXPECT_EQ(engine_->step(), TimePoint::max());
  EXPECT_TRUE(engine_->ran_batch());
  EXPECT_EQ(models_[0]->batches, (std::vector<int64_t>{4}));
  EXPECT_TRUE(models_[1]->batches.empty());
  ASSERT_EQ(sink_.outputs.size(), 4u);
  const std::map<uint64_t, std::pair<float, float>> expected = {
      // token -> (sum of its item, its index in the batch)
      {b1, {8, 0}}, {b2, {16, 1}}, {a1, {4, 2}}, {a2, {12, 3}}};
  for (const auto& [token, want] : expected) {
    const Output* o = sink_.output_of(token);
    ASSERT_NE(o, nullptr) << "token " << token;
    EXPECT_EQ(o->id, id_of(token));
    EXPECT_EQ(o->item, (std::vector<float>{want.first, 4, want.second})) << "token " << token;
    EXPECT_EQ(o->item_shape, (std::vector<int64_t>{3}));
    EXPECT_EQ(o->batch, 4);
    EXPECT_EQ(o->infer_start, t0);
    EXPECT_EQ(o->infer_end, t0 + milliseconds(13));  // ExeTime(m0, 4)
  }
  EXPECT_EQ(engine_->queued(), 0u);
  EXPECT_EQ(engine_->stats().batches, 1u);
  EXPECT_EQ(engine_->stats().items, 4u);
  EXPECT_EQ(engine_->stats().dropped, 0u);
  EXPECT_EQ(engine_->stats().forward_time, milliseconds(13));

  EXPECT_EQ(engine_->step(), TimePoint::max());  // nothing left
  EXPECT_FALSE(engine_->ran_batch());
  expect_each_ended_and_released_once();
}

TEST_F(InferenceEngineTest, DifferentModelsRunAsSeparateBatchesEarliestDeadlineFirst) {
  build("coedge");
  const uint64_t a = submit({.task = 0, .deadline = milliseconds(100), .value = 1});
  const uint64_t c = submit({.task = 2, .deadline = milliseconds(60), .value = 2});
  const uint64_t b = submit({.task = 1, .deadline = milliseconds(100), .value = 3});

  engine_->step();
  ASSERT_TRUE(engine_->ran_batch());
  EXPECT_EQ(models_[1]->batches, (std::vector<int64_t>{1}));  // m1 holds the earliest deadline
  EXPECT_TRUE(models_[0]->batches.empty());
  ASSERT_NE(sink_.output_of(c), nullptr);
  EXPECT_EQ(sink_.output_of(c)->item, (std::vector<float>{8, 1, 0}));

  engine_->step();
  ASSERT_TRUE(engine_->ran_batch());
  EXPECT_EQ(models_[0]->batches, (std::vector<int64_t>{2}));
  ASSERT_NE(sink_.output_of(a), nullptr);
  ASSERT_NE(sink_.output_of(b), nullptr);
  EXPECT_EQ(sink_.output_of(a)->item, (std::vector<float>{4, 2, 0}));  // a's id is lower
  EXPECT_EQ(sink_.output_of(b)->item, (std::vector<float>{12, 2, 1}));
  EXPECT_EQ(sink_.output_of(a)->infer_start, sink_.output_of(c)->infer_end);
  expect_each_ended_and_released_once();
}

TEST_F(InferenceEngineTest, BatchInputsAreReleasedBeforeTheForwardPass) {
  build("coedge");
  const uint64_t t1 = submit({.task = 0});
  const uint64_t t2 = submit({.task = 1});
  const uint64_t t3 = submit({.task = 0});
  engine_->step();
  ASSERT_TRUE(engine_->ran_batch());
  const size_t forward = index_of(Event::kForward, 0);
  ASSERT_LT(forward, log_.size());
  for (uint64_t token : {t1, t2, t3}) {
    EXPECT_LT(index_of(Event::kRelease, token), forward) << "token " << token;
    EXPECT_GT(index_of(Event::kOutput, token), forward) << "token " << token;
  }
  expect_each_ended_and_released_once();
}

TEST_F(InferenceEngineTest, AJobThatCannotMeetItsDeadlineIsDroppedByTheScheduler) {
  build("coedge");
  // ExeTime(m0, 1) = 10 ms: a deadline 5 ms away cannot be met even alone.
  const uint64_t hopeless = submit({.task = 0, .deadline = milliseconds(5), .value = 1});
  const uint64_t fine = submit({.task = 1, .deadline = milliseconds(50), .value = 2});
  // Feasible when it arrives, but the clock moves on before the server gets to it.
  const uint64_t stale = submit({.task = 2, .deadline = milliseconds(25), .value = 3});
  clock_.advance(milliseconds(10));  // m1 alone takes 20 ms: 10 + 20 > 25
  const TimePoint now = clock_.now();

  engine_->step();
  EXPECT_TRUE(engine_->ran_batch());
  for (uint64_t token : {hopeless, stale}) {
    ASSERT_EQ(sink_.reasons.count(token), 1u) << "token " << token;
    EXPECT_EQ(sink_.reasons.at(token), DropCause::kScheduler);
    EXPECT_EQ(sink_.output_of(token), nullptr);
    const size_t dropped = index_of(Event::kDropped, token);
    EXPECT_EQ(log_[dropped].at, now);
    EXPECT_LT(dropped, index_of(Event::kRelease, token));  // dropped, then released
  }
  ASSERT_NE(sink_.output_of(fine), nullptr);
  EXPECT_EQ(sink_.output_of(fine)->item, (std::vector<float>{8, 1, 0}));
  EXPECT_TRUE(models_[1]->batches.empty());
  EXPECT_EQ(engine_->stats().dropped, 2u);
  EXPECT_EQ(engine_->queued(), 0u);
  expect_each_ended_and_released_once();
}

TEST_F(InferenceEngineTest, EdfRunsALateJobInsteadOfDroppingIt) {
  build("edf");
  const uint64_t late = submit({.task = 0, .deadline = milliseconds(5), .value = 1});
  engine_->step();
  EXPECT_TRUE(engine_->ran_batch());
  ASSERT_NE(sink_.output_of(late), nullptr);
  EXPECT_TRUE(sink_.reasons.empty());
  expect_each_ended_and_released_once();
}

TEST_F(InferenceEngineTest, MalformedInputsAreDroppedAtOnceAsInferenceErrors) {
  build("coedge");
  const uint64_t good = submit({.task = 0, .value = 1});
  const TimePoint now = clock_.now();
  const uint64_t too_few = submit({.task = 0, .elements = kItemElements - 1});
  const uint64_t too_many = submit({.task = 1, .elements = kItemElements + 1});
  const uint64_t empty = submit({.task = 1, .elements = 0});
  const uint64_t no_data = submit({.task = 0, .null_data = true});
  const uint64_t duplicate = submit({.task = 1, .value = 7, .id = id_of(good)});
  const uint64_t unknown_model = submit({.task = 0, .model = 2});
  const uint64_t no_model = submit({.task = 0, .model = kNone});
  const std::vector<uint64_t> bad = {too_few, too_many, empty, no_data, duplicate, unknown_model,
                                     no_model};
  // Each was dropped and released inside submit(), before any step.
  EXPECT_TRUE(models_[0]->batches.empty());
  EXPECT_EQ(engine_->queued(), 1u);
  EXPECT_EQ(engine_->stats().dropped, bad.size());
  for (uint64_t token : bad) {
    ASSERT_EQ(sink_.reasons.count(token), 1u) << "token " << token;
    EXPECT_EQ(sink_.reasons.at(token), DropCause::kInferenceError) << "token " << token;
    const size_t dropped = index_of(Event::kDropped, token);
    EXPECT_EQ(log_[dropped].at, now);
    EXPECT_EQ(dropped + 1, index_of(Event::kRelease, token)) << "token " << token;
  }
  // The first input with the duplicated id is untouched and runs with its own values.
  engine_->step();
  ASSERT_TRUE(engine_->ran_batch());
  EXPECT_EQ(models_[0]->batches, (std::vector<int64_t>{1}));
  ASSERT_NE(sink_.output_of(good), nullptr);
  EXPECT_EQ(sink_.output_of(good)->item, (std::vector<float>{4, 1, 0}));
  EXPECT_EQ(sink_.outputs.size(), 1u);
  expect_each_ended_and_released_once();
}

TEST_F(InferenceEngineTest, AFailingForwardPassDropsTheWholeBatch) {
  build("coedge");
  const TimePoint t0 = clock_.now();
  const uint64_t t1 = submit({.task = 0});
  const uint64_t t2 = submit({.task = 1});
  const uint64_t t3 = submit({.task = 0});
  models_[0]->fail_next = true;
  engine_->step();
  EXPECT_TRUE(engine_->ran_batch());
  EXPECT_EQ(models_[0]->batches, (std::vector<int64_t>{3}));
  EXPECT_TRUE(sink_.outputs.empty());
  for (uint64_t token : {t1, t2, t3}) {
    ASSERT_EQ(sink_.reasons.count(token), 1u) << "token " << token;
    EXPECT_EQ(sink_.reasons.at(token), DropCause::kInferenceError);
    EXPECT_EQ(log_[index_of(Event::kDropped, token)].at, t0 + milliseconds(12));  // pass end
  }
  EXPECT_EQ(engine_->stats().batches, 1u);
  EXPECT_EQ(engine_->stats().dropped, 3u);
  EXPECT_EQ(engine_->queued(), 0u);
  expect_each_ended_and_released_once();

  // The engine carries on with the next batch.
  const uint64_t next = submit({.task = 0, .value = 2});
  engine_->step();
  ASSERT_NE(sink_.output_of(next), nullptr);
  EXPECT_EQ(sink_.output_of(next)->item, (std::vector<float>{8, 1, 0}));
  expect_each_ended_and_released_once();
}

TEST_F(InferenceEngineTest, AnOutputWithoutOneItemPerJobDropsTheWholeBatch) {
  build("coedge");
  const uint64_t t1 = submit({.task = 0});
  const uint64_t t2 = submit({.task = 1});
  models_[0]->wrong_batch_axis = true;
  engine_->step();
  EXPECT_TRUE(sink_.outputs.empty());
  for (uint64_t token : {t1, t2}) {
    ASSERT_EQ(sink_.reasons.count(token), 1u);
    EXPECT_EQ(sink_.reasons.at(token), DropCause::kInferenceError);
  }
  expect_each_ended_and_released_once();
}

// A backend that returns fewer values than its output shape says (here [2, 3] with 3
// floats) must not hand the sink spans past the end of the data: the batch is dropped.
TEST_F(InferenceEngineTest, AnOutputShorterThanItsShapeDropsTheWholeBatch) {
  build("coedge");
  sink_.copy_values = false;
  const uint64_t t1 = submit({.task = 0});
  const uint64_t t2 = submit({.task = 1});
  models_[0]->short_data = true;
  engine_->step();
  EXPECT_TRUE(sink_.outputs.empty());
  for (uint64_t token : {t1, t2}) {
    ASSERT_EQ(sink_.reasons.count(token), 1u);
    EXPECT_EQ(sink_.reasons.at(token), DropCause::kInferenceError);
  }
  expect_each_ended_and_released_once();
}

TEST_F(InferenceEngineTest, EdfRunsBatchOneInDeadlineOrder) {
  build("edf");
  const uint64_t t1 = submit({.task = 0, .deadline = milliseconds(90), .value = 1});
  const uint64_t t2 = submit({.task = 1, .deadline = milliseconds(80), .value = 2});
  const uint64_t t3 = submit({.task = 0, .deadline = milliseconds(85), .value = 3});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(engine_->step(), TimePoint::max());
    EXPECT_TRUE(engine_->ran_batch());
  }
  engine_->step();
  EXPECT_FALSE(engine_->ran_batch());
  EXPECT_EQ(models_[0]->batches, (std::vector<int64_t>{1, 1, 1}));
  ASSERT_EQ(sink_.outputs.size(), 3u);
  EXPECT_EQ(sink_.outputs[0].token, t2);
  EXPECT_EQ(sink_.outputs[1].token, t3);
  EXPECT_EQ(sink_.outputs[2].token, t1);
  for (const Output& o : sink_.outputs) {
    EXPECT_EQ(o.batch, 1);
    EXPECT_EQ(o.item[1], 1);
    EXPECT_EQ(o.item[2], 0);
  }
  EXPECT_EQ(sink_.outputs[0].item[0], 8);
  EXPECT_EQ(sink_.outputs[1].item[0], 12);
  EXPECT_EQ(sink_.outputs[2].item[0], 4);
  expect_each_ended_and_released_once();
}

TEST_F(InferenceEngineTest, FixedPriorityRunsTheMostImportantTaskFirstOneAtATime) {
  build("fixed");
  // Priorities: a 0, b 5, c 1. Deadlines favour a; priority wins.
  const uint64_t a = submit({.task = 0, .deadline = milliseconds(50)});
  const uint64_t c = submit({.task = 2, .deadline = milliseconds(70)});
  const uint64_t b = submit({.task = 1, .deadline = milliseconds(90)});
  run_until_idle();
  ASSERT_EQ(sink_.outputs.size(), 3u);
  EXPECT_EQ(sink_.outputs[0].token, b);
  EXPECT_EQ(sink_.outputs[1].token, c);
  EXPECT_EQ(sink_.outputs[2].token, a);
  EXPECT_EQ(models_[0]->batches, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(models_[1]->batches, (std::vector<int64_t>{1}));
  expect_each_ended_and_released_once();
}

TEST_F(InferenceEngineTest, StepReturnsTheSchedulersWakeAtWhenNothingRuns) {
  build("coedge-wait");
  EXPECT_EQ(engine_->step(), TimePoint::max());  // idle: only a new input changes anything
  EXPECT_FALSE(engine_->ran_batch());

  // Two m0 inputs 5 ms apart: the slack-aware scheduler expects a third at +10 ms and
  // holds the batch until 10 ms + a quarter of the gap (see coedge_scheduler.h).
  const TimePoint t0 = clock_.now();
  const uint64_t t1 = submit({.task = 0, .deadline = milliseconds(100)});
  clock_.advance(milliseconds(5));
  const uint64_t t2 = submit({.task = 1, .deadline = milliseconds(100)});
  const TimePoint wake = engine_->step();
  EXPECT_FALSE(engine_->ran_batch());
  EXPECT_EQ(wake, t0 + microseconds(11250));
  EXPECT_TRUE(models_[0]->batches.empty());
  EXPECT_EQ(engine_->queued(), 2u);
  EXPECT_TRUE(sink_.released.empty());

  clock_.set(wake);
  EXPECT_EQ(engine_->step(), TimePoint::max());
  EXPECT_TRUE(engine_->ran_batch());
  EXPECT_EQ(models_[0]->batches, (std::vector<int64_t>{2}));
  ASSERT_NE(sink_.output_of(t1), nullptr);
  ASSERT_NE(sink_.output_of(t2), nullptr);
  EXPECT_EQ(sink_.output_of(t1)->infer_start, wake);
  expect_each_ended_and_released_once();
}

TEST_F(InferenceEngineTest, DropAllDropsAndReleasesEverythingQueued) {
  build("coedge");
  std::vector<uint64_t> tokens;
  for (uint32_t task : {2u, 0u, 1u, 2u, 0u}) tokens.push_back(submit({.task = task}));
  EXPECT_EQ(engine_->queued(), 5u);
  clock_.advance(milliseconds(1));
  engine_->drop_all(DropCause::kShutdown);
  EXPECT_EQ(engine_->queued(), 0u);
  EXPECT_TRUE(models_[0]->batches.empty());
  EXPECT_TRUE(models_[1]->batches.empty());
  EXPECT_TRUE(sink_.outputs.empty());
  EXPECT_EQ(engine_->stats().dropped, 5u);
  // In id order, each dropped then released.
  ASSERT_EQ(log_.size(), 10u);
  for (size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(log_[2 * i].kind, Event::kDropped);
    EXPECT_EQ(log_[2 * i].token, tokens[i]);
    EXPECT_EQ(log_[2 * i].reason, DropCause::kShutdown);
    EXPECT_EQ(log_[2 * i].at, clock_.now());
    EXPECT_EQ(log_[2 * i + 1].kind, Event::kRelease);
    EXPECT_EQ(log_[2 * i + 1].token, tokens[i]);
  }
  expect_each_ended_and_released_once();
}

// Lean nodes load a model when a task that uses it arrives and unload it when none is
// left: inputs for a model not loaded end at once as kNotReady; inputs queued when their
// model goes end as kNotReady when the scheduler picks them; the other model runs on.
TEST_F(InferenceEngineTest, AModelNotLoadedDropsItsInputsAsNotReadyAndTheOthersRun) {
  build("coedge");
  engine_->set_model(1, nullptr);
  EXPECT_FALSE(engine_->has_model(1));
  EXPECT_TRUE(engine_->has_model(0));
  const uint64_t early = submit({.task = 2});
  EXPECT_EQ(sink_.reasons.at(early), DropCause::kNotReady);
  EXPECT_EQ(engine_->queued(), 0u);

  engine_->set_model(1, models_[1].get());
  const uint64_t queued_c = submit({.task = 2, .deadline = milliseconds(500)});
  const uint64_t queued_a = submit({.task = 0, .deadline = milliseconds(500)});
  engine_->set_model(1, nullptr);  // unloaded while c waits
  run_until_idle();
  EXPECT_EQ(sink_.reasons.at(queued_c), DropCause::kNotReady);
  ASSERT_NE(sink_.output_of(queued_a), nullptr);
  EXPECT_TRUE(models_[1]->batches.empty());

  engine_->set_model(1, models_[1].get());  // loaded again: runs as before
  const uint64_t later = submit({.task = 2});
  run_until_idle();
  ASSERT_NE(sink_.output_of(later), nullptr);
  EXPECT_EQ(models_[1]->batches, std::vector<int64_t>{1});
  expect_each_ended_and_released_once();
}

// A seeded stream of inputs (some malformed, some hopeless, some duplicated) with failing
// passes now and then, stepped on a manual clock and shut down with drop_all: every input
// ends exactly once and is released exactly once, whatever the scheduler.
class InferenceEngineEveryInput : public InferenceEngineTest,
                                  public ::testing::WithParamInterface<const char*> {};

TEST_P(InferenceEngineEveryInput, EndsOnceAndIsReleasedOnce) {
  build(GetParam());
  std::mt19937 rng(7);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int round = 0; round < 400; ++round) {
    const int arrivals = uniform(0, 4);
    for (int k = 0; k < arrivals; ++k) {
      Submit s;
      s.task = static_cast<uint32_t>(uniform(0, 2));
      s.deadline = milliseconds(uniform(5, 150));
      s.value = static_cast<float>(uniform(0, 100));
      const int kind = uniform(0, 99);
      if (kind < 3) s.elements = uniform(0, 8);
      if (kind >= 3 && kind < 5) s.model = static_cast<ModelIndex>(uniform(2, 3));
      const uint64_t token = submit(s);
      if (kind >= 5 && kind < 8) submit({.task = s.task, .id = id_of(token)});  // duplicate
    }
    if (uniform(0, 19) == 0) models_[static_cast<size_t>(uniform(0, 1))]->fail_next = true;
    const TimePoint wake = engine_->step();
    if (!engine_->ran_batch()) {
      // To the wake-up or a little later arrivals, whichever is first; always forward.
      const TimePoint next = clock_.now() + milliseconds(uniform(1, 8));
      clock_.set(std::max(clock_.now() + microseconds(1), std::min(wake, next)));
    }
  }
  engine_->drop_all(DropCause::kShutdown);
  EXPECT_EQ(engine_->queued(), 0u);
  expect_each_ended_and_released_once();

  // Outputs carry their own input's values; counts add up.
  for (const Output& o : sink_.outputs) {
    ASSERT_EQ(o.item.size(), 3u);
    EXPECT_EQ(o.item[0], 4 * buffers_[o.token - 1][0]) << "token " << o.token;
    EXPECT_EQ(o.item[1], static_cast<float>(o.batch));
    EXPECT_LT(o.item[2], o.item[1]);
  }
  const node::EngineStats& stats = engine_->stats();
  EXPECT_EQ(stats.dropped + sink_.outputs.size(), next_token_ - 1);
  std::map<DropCause, int> causes;
  for (const auto& [token, reason] : sink_.reasons) ++causes[reason];
  EXPECT_GT(causes[DropCause::kInferenceError], 0);
  EXPECT_GT(sink_.outputs.size(), 100u);
  if (std::string_view(GetParam()) == "coedge") {
    EXPECT_GT(causes[DropCause::kScheduler], 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Schedulers, InferenceEngineEveryInput,
                         ::testing::Values("coedge", "coedge-wait", "edf", "fixed"));


// A segmentation model: input item [2, 2], output [N, 3, 2, 2] logits whose pixel p of
// item i is won by class (p + sum of the item) % 3. With `own_argmax`, it overrides
// forward_argmax (as the torch backend does: the argmax in its graph) and returns the ids
// directly; else the default (forward, then argmax_channels) runs.
class FakeSegmenter final : public infer::Model {
 public:
  FakeSegmenter(bool own_argmax, ManualClock& clock)
      : infer::Model("seg.onnx", info()), own_argmax_(own_argmax), clock_(clock) {}
  int forwards = 0, argmax_calls = 0;

  static infer::ModelInfo info() {
    infer::ModelInfo info;
    info.inputs.push_back({"x", 1, {-1, 2, 2}});
    info.outputs.push_back({"out", 1, {-1, 3, 2, 2}});
    info.kind_hint = "segmentation";  // declared (a 4-D output alone is not)
    return info;
  }
  static uint8_t winner(int64_t pixel, float sum) { return static_cast<uint8_t>((pixel + static_cast<int64_t>(sum)) % 3); }

 protected:
  Result<infer::Tensor> forward(const infer::Tensor& input) override {
    ++forwards;
    clock_.advance(milliseconds(5));
    const int64_t b = input.shape[0];
    infer::Tensor out = infer::Tensor::zeros({b, 3, 2, 2});
    for (int64_t i = 0; i < b; ++i) {
      float sum = 0;
      for (float v : input.item(i)) sum += v;
      auto item = out.item(i);
      for (int64_t p = 0; p < 4; ++p) item[static_cast<size_t>(winner(p, sum) * 4 + p)] = 1.0f;
    }
    return out;
  }
  Result<infer::LabelMap> forward_argmax(const infer::Tensor& input) override {
    ++argmax_calls;
    if (!own_argmax_) return infer::Model::forward_argmax(input);
    clock_.advance(milliseconds(5));
    const int64_t b = input.shape[0];
    infer::LabelMap out;
    out.shape = {b, 2, 2};
    for (int64_t i = 0; i < b; ++i) {
      float sum = 0;
      for (float v : input.item(i)) sum += v;
      for (int64_t p = 0; p < 4; ++p) out.data.push_back(winner(p, sum));
    }
    return out;
  }

 private:
  bool own_argmax_;
  ManualClock& clock_;
};

class SegmentationEngineTest : public ::testing::TestWithParam<bool> {};

TEST_P(SegmentationEngineTest, ASegmentationModelRunsTheArgmaxAndEachJobGetsItsClassIdsAsBytes) {
  ManualClock clock;
  std::vector<Event> log;
  RecordingSink sink(log);
  const Scenario scenario = testing::ScenarioBuilder()
                                .node("n")
                                .model(testing::make_model("seg", 5, 1))
                                .task("s", "n", "seg", 100)
                                .build();
  FakeSegmenter model(GetParam(), clock);
  auto spec = policy::SchedulerSpec::parse("coedge");
  ASSERT_TRUE(spec.ok());
  node::InferenceEngine engine(scenario, policy::make_local_scheduler(*spec, scenario), {&model}, sink, clock);
  std::deque<std::vector<float>> buffers;
  for (uint64_t id = 1; id <= 3; ++id) {
    buffers.emplace_back(4, static_cast<float>(id));  // item sum 4 * id
    node::EngineInput in;
    in.job.id = id;
    in.job.task = 0;
    in.job.model = 0;
    in.job.release = clock.now();
    in.job.deadline = clock.now() + milliseconds(100);
    in.data = buffers.back().data();
    in.elements = 4;
    in.token = id;
    engine.submit(in);
  }
  engine.step();
  ASSERT_TRUE(engine.ran_batch());
  EXPECT_EQ(model.argmax_calls, 1);                   // one pass for the batch of 3
  EXPECT_EQ(model.forwards, GetParam() ? 0 : 1);      // the backend's own argmax, or the default's
  ASSERT_EQ(sink.outputs.size(), 3u);
  for (const Output& o : sink.outputs) {
    EXPECT_TRUE(o.item.empty()) << "no float item crosses for a segmentation job";
    EXPECT_EQ(o.item_shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(o.batch, 3);
    ASSERT_EQ(o.labels.size(), 4u);
    for (int64_t p = 0; p < 4; ++p)
      EXPECT_EQ(o.labels[static_cast<size_t>(p)], FakeSegmenter::winner(p, 4.0f * static_cast<float>(o.id)))
          << "job " << o.id << " pixel " << p;
  }
  EXPECT_EQ(engine.stats().dropped, 0u);
}

INSTANTIATE_TEST_SUITE_P(OwnOrDefaultArgmax, SegmentationEngineTest, ::testing::Bool());

}  // namespace
}  // namespace coedge::node
