#include "node/cluster/camera.h"

#include <time.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include <opencv2/imgcodecs.hpp>  // IMREAD_* flags
#include <opencv2/imgproc.hpp>

#include "core/clock.h"
#include "core/rng.h"
#include "media/codecs_plugin.h"
#include "media/image_format.h"
#include "node/cluster/cluster_feed.h"
#include "node/cluster/sample_checks.h"

namespace coedge::node {
namespace {

// Sleeps until `at_ns` (CLOCK_REALTIME) or until `stop` is set, in slices.
bool sleep_until(int64_t at_ns, const std::atomic<bool>& stop) {
  while (!stop.load()) {
    const int64_t left = at_ns - realtime_ns();
    if (left <= 0) return true;
    const int64_t slice = std::min<int64_t>(left, 50'000'000);
    timespec ts{static_cast<time_t>(slice / 1'000'000'000), static_cast<long>(slice % 1'000'000'000)};
    nanosleep(&ts, nullptr);
  }
  return false;
}

// A few distinct frames to cycle through, H x W bgr8: the first 16 readable images of
// `dir` (files that are not images are skipped), or random ones when there is no `dir` or
// no image in it. Errors: the image plugin cannot be loaded (media/codecs_plugin.h).
Result<std::vector<cv::Mat>> make_frames(const std::string& dir, int width, int height) {
  std::vector<cv::Mat> frames;
  if (!dir.empty()) {
    auto codecs = media::codecs();
    if (!codecs.ok()) return Error{codecs.error().code, "--frames " + dir + ": " + codecs.error().message};
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) {
      // Only allowed formats are decoded (media/image_format.h). A file that is no image
      // is skipped as before; an image in a refused format is an error naming it.
      auto bytes = media::read_image_file(f);
      if (!bytes.ok() && bytes.error().code == ErrorCode::kUnsupported) {
        return Error{bytes.error().code, "--frames " + dir + ": " + bytes.error().message};
      }
      if (!bytes.ok()) continue;
      cv::Mat image;
      try {
        image = (*codecs)->imdecode(cv::Mat(1, static_cast<int>(bytes->size()), CV_8U, bytes->data()), cv::IMREAD_COLOR);
      } catch (const cv::Exception&) {
        continue;  // not an image OpenCV can read: skipped, like a file it returns empty for
      }
      if (image.empty()) continue;
      cv::Mat sized;
      cv::resize(image, sized, cv::Size(width, height));
      frames.push_back(sized);
      if (frames.size() == 16) break;
    }
  }
  for (int i = 0; frames.empty() || (dir.empty() && i < 4); ++i) {
    cv::Mat m(height, width, CV_8UC3);
    cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(255));  // incompressible, like video noise
    frames.push_back(m);
  }
  return frames;
}

}  // namespace

int run_camera(const Scenario& scenario, const CameraOptions& options) {
  auto log = [&](const std::string& text) {
    std::fprintf(stderr, "[camera %s] %s\n", options.node.c_str(), text.c_str());
  };
  const NodeIndex self = scenario.find_node(options.node);
  if (self == kNone) return log("error: no node named '" + options.node + "' in " + scenario.source_file), 1;
  if (!options.frames_dir.empty() && !std::filesystem::is_directory(options.frames_dir)) {
    return log("error: --frames " + options.frames_dir + " is not a folder"), 1;
  }
  auto domain = net::DdsDomain::create(options.dds);
  if (!domain.ok()) return log("error: " + domain.error().message), 1;
  auto plans = net::PlanReader::create(**domain);
  auto commands = net::CommandReader::create(**domain);
  auto stats = net::SourceStatsWriter::create(**domain, options.node);
  auto acks = net::TaskAckReader::create(**domain);
  if (!plans.ok() || !commands.ok() || !stats.ok() || !acks.ok()) {
    return log("error: cannot create the DDS readers/writers"), 1;
  }

  struct Camera {
    TaskIndex task;
    std::unique_ptr<net::ImageWriter> writer;
    std::vector<cv::Mat> frames;
    std::atomic<uint64_t> published{0};
    std::atomic<int64_t> last_stamp{0};
    std::atomic<int64_t> start_ns{0};  // 0: not yet known
  };
  std::vector<std::unique_ptr<Camera>> cameras;
  for (TaskIndex t = 0; t < scenario.tasks.size(); ++t) {
    const TaskSpec& task = scenario.tasks[t];
    if (task.source != self) continue;
    if (!task.topic.empty()) {
      log(task.name + ": published by a camera driver on " + task.topic + ", not captured here");
      continue;
    }
    const ModelProfile& m = scenario.models[task.model];
    if (m.input_shape.size() != 3) return log("error: model " + m.name + " needs input_shape [3, H, W]"), 1;
    auto camera = std::make_unique<Camera>();
    camera->task = t;
    auto writer = net::ImageWriter::create(**domain, camera_topic(options.node, task.name),
                                           options.best_effort ? net::Reliability::kBestEffort
                                                               : net::Reliability::kReliable);
    if (!writer.ok()) return log("error: " + writer.error().message), 1;
    camera->writer = std::move(*writer);
    auto frames = make_frames(options.frames_dir, static_cast<int>(m.input_shape[2]),
                              static_cast<int>(m.input_shape[1]));
    if (!frames.ok()) return log("error: " + frames.error().message), 1;
    camera->frames = std::move(*frames);
    log(task.name + ": " + std::to_string(m.input_shape[2]) + "x" + std::to_string(m.input_shape[1]) +
        " every " + format_duration(task.period) + " on " + camera_topic(options.node, task.name));
    cameras.push_back(std::move(camera));
  }
  if (cameras.empty()) log("no task of this node is captured here: nothing to capture");

  // Received control samples are checked before use (sample_checks.h); a refused one is
  // counted and logged (the first of each (topic, reason), then at most one line per 10 s),
  // and the counts are logged at the end. Main thread only.
  const MonotonicClock mono;
  ControlGate gate(scenario, SampleCheckOptions{options.dds.security.has_value()});
  auto admitted = [&](const SampleVerdict& v) {
    for (const std::string& line : gate.take_logs()) log(line);
    return v.ok();
  };
  auto log_refused = [&] {
    if (gate.rejections().total() == 0) return;
    std::string line = "samples refused:";
    gate.rejections().for_each([&](SampleTopic topic, SampleRejection reason, uint64_t n) {
      line += " " + std::string(to_string(topic)) + "/" + std::string(to_string(reason)) + " " + std::to_string(n);
    });
    log(line);
  };
  std::atomic<bool> stop{false};
  auto stop_requested = [&] {
    if (options.stop != nullptr && options.stop->load()) return true;
    for (const net::Command& c : (*commands)->take()) {
      if (!admitted(gate.admit_command(c, mono.now()))) continue;
      if ((c.command == "stop" || c.command == "stop-sources") && (c.node.empty() || c.node == options.node)) return stop = true;
    }
    return stop.load();
  };
  // Each task starts capturing when the node the master's first plan gives it is ready
  // (its acknowledgement: lean nodes start a task's workers and load its model only then),
  // or at the plan's effective time if the plan places it nowhere, or kReadyTimeout after
  // it if no node claims it by then (its frames then count as missed).
  log("waiting for the master's plan");
  std::optional<net::Plan> first_plan;
  while (!first_plan) {
    if (stop_requested()) return log_refused(), 0;
    first_plan = (*plans)->take();
    if (first_plan && !admitted(gate.admit_plan(*first_plan, realtime_ns(), mono.now()))) first_plan.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Claims are checked against the plan the camera follows: the first (the gate's).
  constexpr int64_t kReadyTimeoutNs = 60'000'000'000;
  std::vector<bool> placed(scenario.tasks.size(), false);  // by the first plan
  for (const net::Assignment& a : first_plan->assignments) {
    if (const TaskIndex t = scenario.find_task(a.task); t != kNone && !a.node.empty()) placed[t] = true;
  }
  auto decide_starts = [&] {
    std::vector<net::TaskAck> claims = (*acks)->take();
    const int64_t now = realtime_ns();
    std::erase_if(claims, [&](const net::TaskAck& c) { return !admitted(gate.admit_ack(c, now, mono.now())); });
    for (auto& camera : cameras) {
      if (camera->start_ns.load() != 0) continue;
      const std::string& name = scenario.tasks[camera->task].name;
      int64_t start = placed[camera->task] ? 0 : first_plan->effective_ns;
      for (const net::TaskAck& c : claims) {
        if (c.task == name) start = start == 0 ? c.from_ns : std::min(start, c.from_ns);
      }
      if (start == 0 && now >= first_plan->effective_ns + kReadyTimeoutNs) {
        start = first_plan->effective_ns + kReadyTimeoutNs;
        log(name + ": no node claimed it within 60 s of the plan; capturing anyway");
      }
      // A camera that starts late (or restarts) finds the run under way: it starts now.
      if (start != 0) camera->start_ns.store(std::max(start, now));
    }
  };
  Rng rng(scenario.run.seed * 7919 + self);
  std::vector<std::thread> threads;
  for (auto& camera : cameras) {
    const TaskSpec& task = scenario.tasks[camera->task];
    const int64_t period_ns = task.period.count() * 1000;
    const int64_t phase_ns = scenario.run.random_phase ? static_cast<int64_t>(rng.uniform() * static_cast<double>(period_ns)) : 0;
    Camera* c = camera.get();
    threads.emplace_back([c, &task, &stop, period_ns, phase_ns, &log] {
      while (c->start_ns.load() == 0) {
        if (stop.load()) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      const int64_t start_ns = c->start_ns.load();
      net::Image image;
      image.frame_id = task.name;
      image.encoding = "bgr8";
      for (uint64_t i = 0;; ++i) {
        if (!sleep_until(start_ns + phase_ns + static_cast<int64_t>(i) * period_ns, stop)) return;
        // A capture that fell a whole period behind (a write held back by a slow link)
        // is skipped, not replayed in a burst: a camera captures at its own pace.
        const int64_t late = realtime_ns() - (start_ns + phase_ns + static_cast<int64_t>(i) * period_ns);
        if (late >= period_ns) i += static_cast<uint64_t>(late / period_ns);
        const cv::Mat& frame = c->frames[i % c->frames.size()];
        image.height = static_cast<uint32_t>(frame.rows);
        image.width = static_cast<uint32_t>(frame.cols);
        image.step = static_cast<uint32_t>(frame.cols * 3);
        image.data.assign(frame.data, frame.data + frame.total() * 3);
        image.stamp_ns = realtime_ns();
        if (Status st = c->writer->write(image); !st.ok()) {
          if (i < 3) log(task.name + ": frame not published: " + st.error().message);
          continue;  // not released: no node can have it
        }
        c->last_stamp.store(image.stamp_ns);
        c->published.fetch_add(1);
      }
    });
  }
  auto send_stats = [&] {
    for (auto& camera : cameras) {
      (void)(*stats)->write({scenario.tasks[camera->task].name, options.node, camera->published.load(),
                             camera->last_stamp.load(), ""});
    }
  };
  while (!stop_requested()) {
    send_stats();
    for (int i = 0; i < 10 && !stop_requested(); ++i) {
      decide_starts();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  stop = true;
  for (auto& th : threads) th.join();
  send_stats();
  uint64_t total = 0;
  for (auto& camera : cameras) total += camera->published.load();
  log("stopped after " + std::to_string(total) + " frames");
  log_refused();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the last stats reach the master
  return 0;
}

}  // namespace coedge::node
