#include "node/cluster/topic_feed.h"

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "net/dds.h"
#include "node/cluster/topic_frames.h"
#include "node/core/topic_sampler.h"

namespace coedge::node {

struct TopicFeed::Impl {
  TopicOptions options;
  FeedContext context;
  const config::NodeConfig& config;

  // Destroyed in reverse: the readers and the publisher before the domain.
  std::unique_ptr<net::DdsDomain> domain;
  std::unique_ptr<net::ImageReaderSet> readers;
  std::unique_ptr<ResultSink> publisher;

  struct Topic {
    uint32_t sensor = 0;              // config index
    std::vector<uint32_t> tasks;      // the tasks that use it
    uint64_t sequence = 0;            // frames received (feeder thread)
    TopicCounters counters;
    bool silence_told = false;        // loop thread: "no frame yet" was logged
  };
  std::vector<std::unique_ptr<Topic>> topics;
  std::map<uint32_t, Topic*> topic_of_reader;  // set before the feeder starts
  // Per task (only those on a topic sensor have one), feeder thread only.
  std::vector<std::unique_ptr<TopicSampler>> samplers;
  std::vector<std::atomic<uint64_t>> skipped;

  std::atomic<bool> stopping{false};
  std::thread feeder;
  TimePoint first_poll{};  // loop thread: when the run's polling began

  // Why a topic may stay silent, for the log (the node cannot tell which).
  std::string silence_hint(const config::SensorConfig& sensor) const {
    return std::string("is a driver publishing sensor_msgs/") + (sensor.compressed ? "CompressedImage" : "Image") +
           " there, on DDS domain " + std::to_string(options.domain) +
           (sensor.reliability == config::TopicReliability::kReliable
                ? "? A reliable subscription does not match a best-effort (SensorDataQoS) driver."
                : "?");
  }

  Impl(const TopicOptions& o, const FeedContext& c)
      : options(o), context(c), config(*c.config), samplers(c.config->tasks.size()), skipped(c.config->tasks.size()) {}

  void log(const std::string& text) const { std::fprintf(stderr, "[node %s] %s\n", config.name.c_str(), text.c_str()); }

  void feed_loop() {
    while (!stopping.load()) {
      readers->wait(std::chrono::milliseconds(200), [this](uint32_t id, net::Image&& image, int64_t received_ns) {
        on_image(id, image, received_ns);
      });
    }
  }

  void on_image(uint32_t reader, const net::Image& image, int64_t received_ns) {
    if (stopping.load()) return;
    auto it = topic_of_reader.find(reader);
    if (it == topic_of_reader.end()) return;
    Topic& topic = *it->second;
    topic.counters.received.fetch_add(1);
    const uint64_t sequence = topic.sequence++;
    const int32_t metrics_index = topic.sensor < context.metrics_sensor.size() ? context.metrics_sensor[topic.sensor] : -1;
    if (context.metrics != nullptr && metrics_index >= 0) {
      SensorDelta delta;
      delta.frames = 1;
      context.metrics->on_sensor(static_cast<uint32_t>(metrics_index), delta);
    }
    // A driver that stamps nothing: the frame is as old as its arrival.
    const int64_t stamp = image.stamp_ns > 0 ? image.stamp_ns : received_ns;
    std::vector<FrameTaker> takers;
    for (uint32_t t : topic.tasks) {
      if (samplers[t]->offer(stamp)) {
        takers.push_back({t, topic.sensor, sequence});
      } else {
        skipped[t].fetch_add(1);
        if (context.metrics != nullptr) context.metrics->on_frame_skipped(t);
      }
    }
    if (takers.empty()) return;
    const config::SensorConfig& sensor = config.sensors[topic.sensor];
    const PublishedFrame published = release_and_publish(image, stamp, takers, sensor, topic.sensor, config,
                                                         *context.accounting, *context.pipeline, *context.clock);
    note_published(published, topic.counters, "sensor " + sensor.name + " (" + sensor.path + ")", context.metrics,
                   metrics_index, [this](const std::string& line) { log(line); });
  }
};

bool has_topic_sensors(const config::NodeConfig& config) {
  for (const config::TaskRuntime& r : config.task_runtime) {
    if (config.sensors[r.sensor].kind == config::SensorKind::kTopic) return true;
  }
  return false;
}

Result<std::unique_ptr<TopicFeed>> TopicFeed::start(const TopicOptions& options, const FeedContext& context) {
  auto impl = std::make_unique<Impl>(options, context);
  const config::NodeConfig& config = *context.config;
  auto dds = join_dds(options.domain, options.interface_address, options.dds_peers, options.security);
  if (!dds.ok()) return dds.error();
  impl->domain = std::move(dds->domain);
  impl->readers = std::move(dds->readers);
  for (uint32_t s = 0; s < config.sensors.size(); ++s) {
    const config::SensorConfig& sensor = config.sensors[s];
    if (sensor.kind != config::SensorKind::kTopic) continue;
    auto topic = std::make_unique<Impl::Topic>();
    topic->sensor = s;
    for (uint32_t t = 0; t < config.tasks.size(); ++t) {
      if (config.task_runtime[t].sensor != s) continue;
      topic->tasks.push_back(t);
      impl->samplers[t] = std::make_unique<TopicSampler>(std::chrono::nanoseconds(config.tasks[t].period).count());
    }
    if (topic->tasks.empty()) continue;
    const net::Reliability reliability = sensor.reliability == config::TopicReliability::kReliable
                                             ? net::Reliability::kReliable
                                             : net::Reliability::kBestEffort;
    auto id = impl->readers->add(sensor.path, reliability, sensor.compressed);
    if (!id.ok()) return Error{id.error().code, "sensor '" + sensor.name + "': " + id.error().message};
    impl->topic_of_reader[*id] = topic.get();
    impl->log("sensor " + sensor.name + ": subscribed to " + sensor.path + " (" +
              (sensor.compressed ? "sensor_msgs/CompressedImage" : "sensor_msgs/Image") + ", " +
              (sensor.reliability == config::TopicReliability::kReliable ? "reliable" : "best effort") + ", up to " +
              std::to_string(sensor.width) + "x" + std::to_string(sensor.height) + ")");
    impl->topics.push_back(std::move(topic));
  }
  // Last (nothing can fail after it: the agent's ResultLog keeps the sink), and before
  // any frame, so that no result goes unpublished.
  auto publisher = start_result_publisher(*impl->domain, context);
  if (!publisher.ok()) return publisher.error();
  impl->publisher = std::move(*publisher);
  Impl* raw = impl.get();
  impl->feeder = std::thread([raw] { raw->feed_loop(); });
  return std::unique_ptr<TopicFeed>(new TopicFeed(std::move(impl)));
}

TopicFeed::TopicFeed(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TopicFeed::~TopicFeed() { stop_accepting(); }

// Tells, once per topic, that nothing arrived in the run's first 5 s: a wrong topic name,
// domain or QoS shows up as silence, and only the log can say so while the node runs.
bool TopicFeed::poll(TimePoint now) {
  Impl& d = *impl_;
  if (d.first_poll == TimePoint{}) d.first_poll = now;
  if (now - d.first_poll < std::chrono::seconds(5)) return false;
  for (const auto& topic : d.topics) {
    if (topic->silence_told || topic->counters.received.load() > 0) continue;
    topic->silence_told = true;
    const config::SensorConfig& sensor = d.config.sensors[topic->sensor];
    d.log("sensor " + sensor.name + ": no frame on " + sensor.path + " for 5 s: " + d.silence_hint(sensor));
  }
  return false;
}

void TopicFeed::stop_accepting() {
  impl_->stopping.store(true);
  impl_->readers->wake();
  if (impl_->feeder.joinable()) impl_->feeder.join();
}

void TopicFeed::final_report() {
  for (const auto& topic : impl_->topics) {
    const config::SensorConfig& sensor = impl_->config.sensors[topic->sensor];
    std::string line = "sensor " + sensor.name + ": " + std::to_string(topic->counters.received.load()) +
                       " frames received on " + sensor.path + ", " +
                       std::to_string(topic->counters.rejected_total()) + " rejected";
    for (uint32_t t : topic->tasks) {
      line += "; " + impl_->config.tasks[t].name + " skipped " + std::to_string(impl_->skipped[t].load());
    }
    if (topic->counters.received.load() == 0) line += ": " + impl_->silence_hint(sensor);
    impl_->log(line);
  }
}

Feed::Counts TopicFeed::counts() const {
  Counts c;
  for (const auto& topic : impl_->topics) c.sensors.push_back(topic->counters.counts(topic->sensor));
  for (const auto& s : impl_->skipped) c.skipped.push_back(s.load());
  return c;
}

FeedStarter topic_feed_starter(const TopicOptions& options) {
  FeedStarter starter;
  starter.start = [options](const FeedContext& context) -> Result<std::unique_ptr<Feed>> {
    auto started = TopicFeed::start(options, context);
    if (!started.ok()) return started.error();
    return std::unique_ptr<Feed>(std::move(*started));
  };
  starter.started = "joined DDS domain " + std::to_string(options.domain) + ": taking frames from the topic sensors";
  return starter;
}

}  // namespace coedge::node
