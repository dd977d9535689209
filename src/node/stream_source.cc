// StreamSource: the reader thread (connect, read, keep the newest frame, reconnect) and
// next() over what it keeps. See stream_source.h for the contract.
#include "node/stream_source.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <opencv2/videoio.hpp>  // CAP_* constants
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "media/codecs_plugin.h"

namespace coedge::node {
namespace {

std::string seconds_text(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", to_s(d));
  return buf;
}

// OpenCV (4.6) opens every FFmpeg capture of the process under one mutex
// (CvCapture_FFMPEG::open), so a reader blocked in open() on a dead camera holds up every
// other stream's open, and every video sensor's, for up to its open_timeout. The gate makes
// that queue ours, in front of OpenCV's: a reader waits for its turn here, where a stop
// reaches it, rather than inside OpenCV, where a stopped reader would still open (and wait
// up to open_timeout) once its turn came. So a stop waits for one open at most, the one in
// progress, not for the whole queue. Opens were serialised already; the gate adds no wait.
class OpenGate {
 public:
  // Waits for the turn, or for `stopping` to say true. Returns whether it has the turn
  // (then leave() once the open returned).
  template <typename Stopping>
  bool enter(Stopping stopping) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !busy_ || stopping(); });
    if (stopping()) return false;
    busy_ = true;
    return true;
  }
  void leave() {
    {
      std::lock_guard lock(mu_);
      busy_ = false;
    }
    cv_.notify_all();
  }
  // A reader was asked to stop: the ones waiting look at their flag again.
  void wake() {
    { std::lock_guard lock(mu_); }  // a waiter is either waiting (and notified) or yet to check
    cv_.notify_all();
  }

 private:
  std::mutex mu_;  // taken before a source's own mutex (enter's `stopping`), never after it
  std::condition_variable cv_;
  bool busy_ = false;
};

OpenGate& open_gate() {
  static OpenGate gate;
  return gate;
}

int to_ms(Duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 1, 24 * 3600 * 1000));
}

class StreamSource final : public FrameSource {
 public:
  StreamSource(const config::SensorConfig& config, const media::Codecs* codecs)
      : settings_(config.stream), codecs_(codecs) {}

  ~StreamSource() override { stop(); }

  // The stall clock starts here: the time before (profiling the models) is not an outage.
  void start() override {
    {
      std::lock_guard lock(mu_);
      if (started_ || stopping_) return;
      started_ = true;
      last_arrival_ = clock_.now();
    }
    reader_ = std::thread([this] { read_loop(); });
  }

  Result<NextFrame> next() override {
    std::lock_guard lock(mu_);
    if (!started_) return NextFrame();  // not reading yet: no frame, and no stall either
    const TimePoint now = clock_.now();
    if (latest_number_ > handed_number_) {
      handed_number_ = latest_number_;
      ++stats_.handed_out;
      origin_ = FrameOrigin{"", latest_number_ - 1, latest_unix_ns_, latest_arrival_};
      return NextFrame(std::exchange(latest_, cv::Mat()));  // the reader makes a new Mat per frame
    }
    note_gap(now);
    if (!stalled_ && !stopping_ && now - last_arrival_ >= settings_.stall_timeout) {
      stalled_ = true;
      ++stats_.stalls;
      events_.push_back("stalled: no frame for " + seconds_text(now - last_arrival_) +
                        (stats_.frames == 0 ? " since the start" : "") + " (stall_timeout " +
                        seconds_text(settings_.stall_timeout) + "); no jobs are released until frames come again");
    }
    return NextFrame();
  }

  std::string describe() const override {
    std::lock_guard lock(mu_);
    std::string text = "stream " + settings_.url;
    if (width_ > 0) {
      char fps[32];
      std::snprintf(fps, sizeof fps, "%g", fps_);
      text += " (" + std::to_string(width_) + "x" + std::to_string(height_) + ", " + fps + " fps)";
    } else {
      text += " (connecting in the background; stall after " + seconds_text(settings_.stall_timeout) +
              ", reconnect after " + seconds_text(settings_.reconnect_min) + " doubling to " +
              seconds_text(settings_.reconnect_max) + ")";
    }
    return text;
  }

  FrameOrigin origin() const override {
    std::lock_guard lock(mu_);
    return origin_;
  }

  std::vector<std::string> take_events() override {
    std::lock_guard lock(mu_);
    return std::exchange(events_, {});
  }

  std::optional<StreamStats> stream_stats() const override {
    std::lock_guard lock(mu_);
    StreamStats stats = stats_;
    if (!started_) return stats;
    // A gap still open counts too (up to the stop, for a stopped stream).
    const TimePoint end = stopped_at_ != TimePoint{} ? stopped_at_ : clock_.now();
    stats.longest_gap_s = std::max(stats.longest_gap_s, to_s(end - last_arrival_));
    return stats;
  }

  void request_stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    open_gate().wake();
  }

  void stop() override {
    request_stop();
    if (reader_.joinable()) reader_.join();
    std::lock_guard lock(mu_);
    latest_ = cv::Mat();  // a frame not handed out by now never will be
    handed_number_ = latest_number_;
  }

 private:
  // REQUIRES: mu_ held.
  void note_gap(TimePoint now) {
    if (stopped_at_ != TimePoint{}) now = stopped_at_;  // a stopped stream's gap ends there
    stats_.longest_gap_s = std::max(stats_.longest_gap_s, to_s(now - last_arrival_));
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  // Waits `delay`, or less if stop() is called. Returns false when stopping.
  bool wait(Duration delay) {
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, delay, [&] { return stopping_; });
    return !stopping_;
  }

  void event(std::string text) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(text));
  }

  void read_loop() {
    uint32_t failures = 0;    // failed attempts and lost connections since the last frame
    uint64_t outage_fails = 0;  // failed opens since the last successful one, for the log
    std::string last_open_error;
    while (!stopping()) {
      std::unique_ptr<media::VideoCapture> capture = codecs_->video_capture();
      bool opened = false;
      std::string why;
      if (!open_gate().enter([this] { return stopping(); })) break;  // stopped while queued
      try {
        // FFmpeg only (as for video files). Its timeouts bound how long the reader can be
        // blocked in the network: connecting, and waiting for the next packet.
        opened = capture->open(settings_.url, cv::CAP_FFMPEG,
                               {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, to_ms(settings_.open_timeout),
                                cv::CAP_PROP_READ_TIMEOUT_MSEC, to_ms(settings_.stall_timeout)}) &&
                 capture->is_opened();
      } catch (const std::exception& e) {
        why = e.what();
      }
      open_gate().leave();
      if (!opened) {
        const Duration delay = reconnect_delay(settings_, failures++);
        {
          std::lock_guard lock(mu_);
          ++stats_.failed_opens;
          if (outage_fails++ == 0) {
            events_.push_back("cannot open " + settings_.url +
                              (why.empty() ? std::string(" (refused, unreachable, or no decodable stream within open_timeout ") +
                                                 seconds_text(settings_.open_timeout) + ")"
                                           : ": " + why) +
                              "; retrying in " + seconds_text(delay) + ", then backing off up to " +
                              seconds_text(settings_.reconnect_max) + " (further failures are counted, not logged)");
          }
        }
        if (!wait(delay)) break;
        continue;
      }
      {
        std::lock_guard lock(mu_);
        width_ = static_cast<int>(capture->get(cv::CAP_PROP_FRAME_WIDTH));
        height_ = static_cast<int>(capture->get(cv::CAP_PROP_FRAME_HEIGHT));
        fps_ = capture->get(cv::CAP_PROP_FPS);
        stats_.connected = true;
        ++stats_.connects;
        char fps[32];
        std::snprintf(fps, sizeof fps, "%g", fps_);
        const std::string what = std::to_string(width_) + "x" + std::to_string(height_) + ", " + fps + " fps";
        if (stats_.connects == 1) {
          events_.push_back("connected to " + settings_.url + " (" + what + ")" +
                            (outage_fails > 0 ? " after " + std::to_string(outage_fails) + " failed attempts" : ""));
        } else {
          events_.push_back("reconnected to " + settings_.url + " (" + what + ") after " +
                            std::to_string(outage_fails) + " failed attempts, " +
                            seconds_text(clock_.now() - last_arrival_) + " since the last frame");
        }
        outage_fails = 0;
      }
      read_frames(*capture, failures);
      try {
        capture->release();
      } catch (const std::exception&) {
        // Closing a broken connection: nothing left to report.
      }
      if (stopping()) break;
      const Duration delay = reconnect_delay(settings_, failures++);
      {
        std::lock_guard lock(mu_);
        stats_.connected = false;
        ++stats_.drops;
        events_.push_back("connection lost (end of stream, connection closed, read error, or no data for " +
                          seconds_text(settings_.stall_timeout) + "); reconnecting in " + seconds_text(delay));
      }
      if (!wait(delay)) break;
    }
    std::lock_guard lock(mu_);
    stats_.connected = false;
    note_gap(clock_.now());
    stopped_at_ = clock_.now();
  }

  // Reads until the connection fails or stop(); every frame becomes the newest.
  void read_frames(media::VideoCapture& capture, uint32_t& failures) {
    while (!stopping()) {
      cv::Mat raw;  // a new Mat each time: the one handed out is never written again
      bool ok = false;
      try {
        ok = capture.read(raw);
      } catch (const std::exception& e) {
        event(std::string("read error: ") + e.what());
      }
      if (!ok || raw.empty()) return;
      const TimePoint arrival = clock_.now();
      const int64_t unix_ns = realtime_ns();
      const int raw_channels = raw.channels();
      cv::Mat bgr = to_bgr8(std::move(raw));
      std::lock_guard lock(mu_);
      if (bgr.empty()) {
        if (unusable_frames_++ == 0) {
          events_.push_back("a frame has a pixel layout that cannot be made BGR (" +
                            std::to_string(raw_channels) + " channels); such frames are skipped, told once");
        }
        continue;
      }
      note_gap(arrival);
      if (stalled_) {
        events_.push_back("frames again after " + seconds_text(arrival - last_arrival_) + " without");
        stalled_ = false;
      }
      failures = 0;  // a frame: the connection works, the backoff starts over
      latest_ = std::move(bgr);
      ++latest_number_;
      latest_unix_ns_ = unix_ns;
      latest_arrival_ = arrival;
      last_arrival_ = arrival;
      ++stats_.frames;
    }
  }

  const config::StreamSettings settings_;
  const media::Codecs* codecs_;
  const MonotonicClock clock_;
  std::thread reader_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable wake_;
  bool stopping_ = false;
  bool started_ = false;         // start() was called (the reader runs, or ran)
  TimePoint stopped_at_{};       // when the reader ended; {} while it runs
  TimePoint last_arrival_{};     // the newest frame's arrival; start()'s time before the first
  bool stalled_ = false;         // a stall was told and no frame came since
  cv::Mat latest_;               // the newest frame, until handed out
  int64_t latest_number_ = 0;    // frames that arrived (the newest's arrival number + 1)
  int64_t handed_number_ = 0;    // latest_number_ when next() last handed out a frame
  int64_t latest_unix_ns_ = -1;
  TimePoint latest_arrival_{};
  FrameOrigin origin_;           // of the frame next() last returned
  int width_ = 0, height_ = 0;   // of the last connection
  double fps_ = 0;
  StreamStats stats_;
  uint64_t unusable_frames_ = 0;  // decoded frames to_bgr8 could not map
  std::vector<std::string> events_;
};

}  // namespace

Duration reconnect_delay(const config::StreamSettings& settings, uint32_t failures) {
  Duration delay = settings.reconnect_min;
  for (uint32_t i = 0; i < failures && delay < settings.reconnect_max; ++i) delay *= 2;
  return std::min(delay, settings.reconnect_max);
}

Result<std::unique_ptr<FrameSource>> open_stream_source(const config::SensorConfig& config) {
  const std::string prefix = "sensor '" + config.name + "': ";
  if (config.stream.url.empty()) {
    return Error{ErrorCode::kNotFound, prefix + "a stream sensor needs a url"};
  }
  auto codecs = media::codecs();
  if (!codecs.ok()) return Error{codecs.error().code, prefix + "cannot read stream " + config.stream.url + ": " + codecs.error().message};
  return std::unique_ptr<FrameSource>(std::make_unique<StreamSource>(config, *codecs));
}

}  // namespace coedge::node
