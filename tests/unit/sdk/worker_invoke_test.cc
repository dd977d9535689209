// The one worker-invocation path (sdk/include/coedge/worker_invoke.h), with a fake
// worker's callbacks: what they are given, what is refused, and the result it keeps (the
// invoker writes no file: the agent's ResultLog does, node/core/result_log.h).
#include "coedge/worker_invoke.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

using coedge::sdk::OutputItem;
using coedge::sdk::WorkerInvoker;

// What the fake worker saw last, and what it does next.
struct Fake {
  coedge_tensor tensor{};
  coedge_output output{};
  int pre_rc = 0, post_rc = 0;
  std::string result = "{\"n\":1}";
  bool overflow = false;  // post fills the whole result buffer
};

int fake_pre(void* state, const coedge_frame* frame, coedge_tensor* t, char* error, size_t size) {
  auto* f = static_cast<Fake*>(state);
  f->tensor = *t;
  for (uint64_t i = 0; i < t->elements; ++i) t->data[i] = static_cast<float>(frame->sequence);
  t->aux[0] = 2.5;
  if (f->pre_rc != 0) std::snprintf(error, size, "bad frame");
  return f->pre_rc;
}

int fake_post(void* state, const coedge_output* out, char* result, size_t size, char* error,
              size_t error_size) {
  auto* f = static_cast<Fake*>(state);
  f->output = *out;
  if (f->overflow) {
    std::memset(result, 'x', size);
    return 0;
  }
  std::snprintf(result, size, "%s", f->result.c_str());
  if (f->post_rc != 0) std::snprintf(error, error_size, "no");
  return f->post_rc;
}

const coedge_worker_callbacks kCallbacks{COEDGE_WORKER_ABI_VERSION, nullptr, fake_pre, fake_post, nullptr};

class WorkerInvokeTest : public ::testing::Test {
 protected:
  OutputItem item(uint64_t job) {
    OutputItem it;
    it.data = data_;
    it.shape = shape_;
    it.aux = aux_;
    it.job = job;
    it.batch = 2;
    it.release_us = 10;
    it.deadline_us = 20;
    return it;
  }

  Fake fake_;
  std::vector<float> data_ = std::vector<float>(6, 1.0f);
  std::vector<int64_t> shape_{2, 3};
  double aux_[6] = {1, 2, 3, 4, 5, 6};
};

TEST_F(WorkerInvokeTest, PreFillsTheTensorShapeAndReturnsAux) {
  WorkerInvoker w(&kCallbacks, &fake_, "test");
  std::vector<float> tensor(3 * 4 * 5);
  const std::vector<int64_t> shape{3, 4, 5};
  coedge_frame frame{};
  frame.sequence = 7;
  double aux[6] = {};
  ASSERT_TRUE(w.pre(frame, tensor, shape, aux)) << w.error();
  EXPECT_EQ(fake_.tensor.elements, 60u);
  ASSERT_EQ(fake_.tensor.rank, 3);
  EXPECT_EQ(fake_.tensor.shape[0], 3);
  EXPECT_EQ(fake_.tensor.shape[1], 4);
  EXPECT_EQ(fake_.tensor.shape[2], 5);
  EXPECT_EQ(tensor[59], 7.0f);
  EXPECT_EQ(aux[0], 2.5);
}

TEST_F(WorkerInvokeTest, PreRefusesATensorThatIsNotItsShapeAndReportsTheWorkersError) {
  WorkerInvoker w(&kCallbacks, &fake_, "test");
  std::vector<float> tensor(10);
  const std::vector<int64_t> shape{3, 4};
  coedge_frame frame{};
  EXPECT_FALSE(w.pre(frame, tensor, shape, nullptr));
  fake_.pre_rc = 1;
  tensor.resize(12);
  EXPECT_FALSE(w.pre(frame, tensor, shape, nullptr));
  EXPECT_EQ(w.error(), "bad frame");
}

TEST_F(WorkerInvokeTest, PostGivesTheItemAndKeepsItsResult) {
  WorkerInvoker w(&kCallbacks, &fake_, "test");
  ASSERT_TRUE(w.post(item(41))) << w.error();
  EXPECT_EQ(w.result(), "{\"n\":1}");
  EXPECT_EQ(fake_.output.elements, 6u);
  ASSERT_EQ(fake_.output.rank, 2);
  EXPECT_EQ(fake_.output.shape[0], 2);
  EXPECT_EQ(fake_.output.shape[1], 3);
  EXPECT_EQ(fake_.output.aux[5], 6.0);
  EXPECT_EQ(fake_.output.job, 41u);
  EXPECT_EQ(fake_.output.batch, 2);
  EXPECT_EQ(fake_.output.deadline_us, 20);
  EXPECT_EQ(fake_.output.dtype, COEDGE_DTYPE_F32);  // the float32 item a worker built before reads
  EXPECT_EQ(fake_.output.data, data_.data());
  EXPECT_EQ(fake_.output.labels, nullptr);
  fake_.result = "";  // an empty result: done, nothing to send
  ASSERT_TRUE(w.post(item(42)));
  EXPECT_TRUE(w.result().empty());
  fake_.result = "{\"n\":3}";
  ASSERT_TRUE(w.post(item(43)));
  EXPECT_EQ(w.result(), "{\"n\":3}");
}

TEST_F(WorkerInvokeTest, PostRefusesAResultThatOverflowsItsBuffer) {
  WorkerInvoker w(&kCallbacks, &fake_, "test");
  fake_.overflow = true;
  EXPECT_FALSE(w.post(item(1)));
  EXPECT_NE(w.error().find("does not fit"), std::string::npos) << w.error();
  EXPECT_TRUE(w.result().empty());
}

TEST_F(WorkerInvokeTest, PostRefusesAFailureAndAMalformedItemWithoutALine) {
  WorkerInvoker w(&kCallbacks, &fake_, "test");
  fake_.post_rc = 1;
  EXPECT_FALSE(w.post(item(1)));
  EXPECT_EQ(w.error(), "no");
  fake_.post_rc = 0;
  shape_ = {4, 3};  // 12 elements claimed, 6 given
  fake_.output = {};
  EXPECT_FALSE(w.post(item(2)));
  EXPECT_EQ(fake_.output.job, 0u) << "the worker was called with a malformed item";
  shape_ = {1, 1, 1, 1, 1, 1, 6};  // rank above COEDGE_MAX_RANK
  EXPECT_FALSE(w.post(item(3)));
  EXPECT_TRUE(w.result().empty());
}

// A segmentation job's output: one class id per pixel, handed over as bytes (data NULL).
TEST_F(WorkerInvokeTest, PostGivesAByteItemAsLabelsWithoutData) {
  WorkerInvoker w(&kCallbacks, &fake_, "test");
  const std::vector<uint8_t> labels{0, 1, 2, 3, 2, 1};
  OutputItem it = item(50);
  it.data = {};
  it.labels = labels;
  it.dtype = COEDGE_DTYPE_U8;
  ASSERT_TRUE(w.post(it)) << w.error();
  EXPECT_EQ(fake_.output.dtype, COEDGE_DTYPE_U8);
  EXPECT_EQ(fake_.output.data, nullptr);
  ASSERT_EQ(fake_.output.labels, labels.data());  // in place, not copied
  EXPECT_EQ(fake_.output.elements, 6u);
  ASSERT_EQ(fake_.output.rank, 2);
  EXPECT_EQ(fake_.output.shape[0], 2);
  EXPECT_EQ(fake_.output.shape[1], 3);
  EXPECT_EQ(fake_.output.job, 50u);
}

TEST_F(WorkerInvokeTest, PostRefusesAByteItemOfTheWrongSizeOrAnUnknownType) {
  WorkerInvoker w(&kCallbacks, &fake_, "test");
  const std::vector<uint8_t> labels(5, 1);  // the shape [2, 3] says 6
  OutputItem it = item(1);
  it.data = {};
  it.labels = labels;
  it.dtype = COEDGE_DTYPE_U8;
  fake_.output = {};
  EXPECT_FALSE(w.post(it));
  EXPECT_NE(w.error().find("5 elements"), std::string::npos) << w.error();
  it = item(2);
  it.dtype = 7;
  EXPECT_FALSE(w.post(it));
  EXPECT_NE(w.error().find("element type 7"), std::string::npos) << w.error();
  it = item(3);  // float32 data, but claimed as bytes
  it.dtype = COEDGE_DTYPE_U8;
  EXPECT_FALSE(w.post(it));
  EXPECT_EQ(fake_.output.job, 0u) << "the worker was called with a malformed item";
}

}  // namespace
