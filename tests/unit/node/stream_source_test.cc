// StreamSource against a real stream: an H.264 MPEG-TS clip generated with ffmpeg at test
// time, served over loopback HTTP by `ffmpeg -re ... -listen 1`. Frames arrive with
// strictly increasing arrival stamps; killing the server is reported (connection lost,
// stalled) and gives no frames; a server restarted on the same port is reconnected to and
// frames flow again. Also: a URL nobody serves (failed opens, told once), the backoff, and
// a server that freezes with the connection open (stall, then FFmpeg's read timeout),
// a prompt stop. No timing is asserted: the waits below are upper bounds that keep a broken
// build from hanging, and every check counts frames or events.
#include "node/stream_source.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback.h"

extern char** environ;

namespace coedge::node {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::free_port;
using test::SilentListener;

// Runs a program; returns its pid (-1 if it could not start).
pid_t spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool have_ffmpeg() { return std::system("ffmpeg -hide_banner -loglevel quiet -version >/dev/null 2>&1") == 0; }


class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::temp_directory_path() / ("coedge-stream-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// An ffmpeg HTTP server of one clip for one client, killed (SIGKILL: a camera that dies)
// when destroyed if still running.
class Server {
 public:
  Server(const fs::path& clip, int port)
      : pid_(spawn({"ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-i", clip.string(), "-c", "copy", "-f",
                    "mpegts", "-listen", "1", "http://127.0.0.1:" + std::to_string(port) + "/stream.ts"})) {}
  ~Server() { kill(); }
  bool started() const { return pid_ > 0; }
  void pause() { ::kill(pid_, SIGSTOP); }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    wait_exit(pid_);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

// 12 s of 320x240 H.264 at 25 fps, in MPEG-TS.
bool make_clip(const fs::path& clip) {
  const std::string cmd = "ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=25 -t 12 "
                          "-c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p -f mpegts '" +
                          clip.string() + "'";
  return std::system(cmd.c_str()) == 0 && fs::exists(clip);
}

config::SensorConfig stream_sensor(const std::string& url) {
  config::SensorConfig c;
  c.name = "street";
  c.kind = config::SensorKind::kStream;
  c.stream.url = url;
  c.stream.open_timeout = 3s;
  c.stream.stall_timeout = 1s;
  c.stream.reconnect_min = 200ms;
  c.stream.reconnect_max = 1s;
  return c;
}

// The test's capture loop: calls next() every 10 ms until `done` or `limit` (a hang guard,
// not a timing check). Collects the events; checks every frame handed out.
struct Capture {
  explicit Capture(FrameSource& s) : source(s) {}
  FrameSource& source;
  std::vector<std::string> events;
  std::vector<FrameOrigin> frames;
  uint64_t empty = 0;  // calls that gave no frame

  bool run(const std::function<bool()>& done, std::chrono::seconds limit = 30s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      auto frame = source.next();
      for (auto& e : source.take_events()) events.push_back(e);
      EXPECT_TRUE(frame.ok()) << frame.error().message;
      if (!frame.ok()) return false;
      if (!frame->has_value()) {
        ++empty;
      } else {
        const cv::Mat& m = **frame;
        EXPECT_EQ(m.type(), CV_8UC3);
        EXPECT_EQ(m.size(), cv::Size(320, 240));
        frames.push_back(source.origin());
      }
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }
  bool saw(const std::string& start) const {
    for (const auto& e : events)
      if (e.rfind(start, 0) == 0) return true;
    return false;
  }
  // Events that start with `start`, from the `from`-th event on.
  size_t count(const std::string& start, size_t from = 0) const {
    size_t n = 0;
    for (size_t i = from; i < events.size(); ++i) n += events[i].rfind(start, 0) == 0 ? 1 : 0;
    return n;
  }
  std::string all_events() const {
    std::string out;
    for (const auto& e : events) out += "  " + e + "\n";
    return out;
  }
};

// Arrival numbers and both stamps strictly increase from each frame handed out to the next.
void expect_increasing(const std::vector<FrameOrigin>& frames) {
  for (size_t i = 1; i < frames.size(); ++i) {
    EXPECT_GT(frames[i].index, frames[i - 1].index) << i;
    EXPECT_GT(frames[i].arrival_unix_ns, frames[i - 1].arrival_unix_ns) << i;
    EXPECT_GT(frames[i].arrival, frames[i - 1].arrival) << i;
  }
}

TEST(StreamSourceTest, ReconnectDelayDoublesFromMinToMax) {
  config::StreamSettings s;
  s.reconnect_min = 500ms;
  s.reconnect_max = 10s;
  std::vector<Duration> got;
  for (uint32_t f = 0; f < 8; ++f) got.push_back(reconnect_delay(s, f));
  const std::vector<Duration> want{500ms, 1s, 2s, 4s, 8s, 10s, 10s, 10s};
  EXPECT_EQ(got, want);
  EXPECT_EQ(reconnect_delay(s, 4000000000u), Duration(10s)) << "no overflow after many failures";
}

TEST(StreamSourceTest, ServedClipArrivesStallsOnKillAndReconnectsOnRestart) {
  if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg is not installed (Makefile PACKAGES)";
  TempDir dir("serve");
  const fs::path clip = dir.path() / "clip.ts";
  ASSERT_TRUE(make_clip(clip)) << "ffmpeg could not encode an H.264 clip with libx264";
  const int port = free_port();
  ASSERT_GT(port, 0);
  auto server = std::make_unique<Server>(clip, port);
  ASSERT_TRUE(server->started());

  auto opened = open_frame_source(stream_sensor("http://127.0.0.1:" + std::to_string(port) + "/stream.ts"));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  FrameSource& source = **opened;
  source.start();  // the reader starts here, not at open (as the agent does)
  EXPECT_EQ(source.describe().rfind("stream http://127.0.0.1:", 0), 0u) << source.describe();
  Capture capture(source);

  // 1. Frames flow: 30 of them (the clip has 300), each newer than the last.
  ASSERT_TRUE(capture.run([&] { return capture.frames.size() >= 30; })) << capture.all_events();
  EXPECT_TRUE(capture.saw("connected to http://127.0.0.1:")) << capture.all_events();
  expect_increasing(capture.frames);
  {
    const StreamStats stats = *source.stream_stats();
    EXPECT_TRUE(stats.connected);
    EXPECT_EQ(stats.connects, 1u);
    EXPECT_EQ(stats.handed_out, capture.frames.size());
    EXPECT_GE(stats.frames, stats.handed_out);
  }

  // 2. The camera dies: the connection is lost, then the stream stalls; no frame comes.
  const size_t killed_at = capture.events.size();
  server->kill();
  ASSERT_TRUE(capture.run([&] {
    return capture.count("connection lost", killed_at) > 0 && capture.count("stalled", killed_at) > 0;
  }))
      << capture.all_events();
  const size_t before_outage = capture.frames.size();
  capture.empty = 0;
  ASSERT_TRUE(capture.run([&] { return capture.empty >= 20; }));  // 20 more captures in the outage
  EXPECT_EQ(capture.frames.size(), before_outage) << "a frame was handed out with no server";
  EXPECT_EQ(capture.count("stalled", killed_at), 1u) << "one stall, told once:\n" << capture.all_events();
  {
    const StreamStats stats = *source.stream_stats();
    EXPECT_FALSE(stats.connected);
    EXPECT_EQ(stats.drops, 1u);
    EXPECT_EQ(stats.stalls, 1u);
  }

  // 3. The camera comes back on the same port: reconnected, frames again, numbers go on.
  server = std::make_unique<Server>(clip, port);
  ASSERT_TRUE(server->started());
  ASSERT_TRUE(capture.run([&] { return capture.frames.size() >= before_outage + 30; })) << capture.all_events();
  EXPECT_TRUE(capture.saw("reconnected to http://127.0.0.1:")) << capture.all_events();
  EXPECT_TRUE(capture.saw("frames again after")) << capture.all_events();
  expect_increasing(capture.frames);
  const StreamStats stats = *source.stream_stats();
  EXPECT_TRUE(stats.connected);
  EXPECT_EQ(stats.connects, 2u);
  EXPECT_EQ(stats.stalls, 1u);
  EXPECT_EQ(stats.handed_out, capture.frames.size());
  EXPECT_GE(stats.longest_gap_s, 1.0) << "the outage lasted at least stall_timeout (it was reported)";

  // 4. Stop: the reader ends while the stream still flows; no frame after it.
  const auto stop_from = std::chrono::steady_clock::now();
  source.stop();
  std::printf("stop() while frames flow took %.3f s (information, not checked)\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_from).count());
  EXPECT_FALSE(source.stream_stats()->connected);
  (void)source.take_events();
  for (int i = 0; i < 3; ++i) {
    auto frame = source.next();
    ASSERT_TRUE(frame.ok());
    EXPECT_FALSE(frame->has_value());
  }
}

TEST(StreamSourceTest, AServerThatStopsSendingIsAStallThenADroppedConnection) {
  if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg is not installed (Makefile PACKAGES)";
  TempDir dir("frozen");
  const fs::path clip = dir.path() / "clip.ts";
  ASSERT_TRUE(make_clip(clip));
  const int port = free_port();
  ASSERT_GT(port, 0);
  Server server(clip, port);
  ASSERT_TRUE(server.started());
  auto opened = open_frame_source(stream_sensor("http://127.0.0.1:" + std::to_string(port) + "/stream.ts"));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  FrameSource& source = **opened;
  source.start();  // the reader starts here, not at open (as the agent does)
  Capture capture(source);
  ASSERT_TRUE(capture.run([&] { return capture.frames.size() >= 10; })) << capture.all_events();
  // The server freezes with the connection open (a camera that hangs): nothing arrives, so
  // the stall is told, and FFmpeg's read timeout (stall_timeout) ends the connection.
  const StreamStats before = *source.stream_stats();
  const size_t paused_at = capture.events.size();
  server.pause();
  ASSERT_TRUE(capture.run([&] {
    return capture.count("stalled", paused_at) > 0 && capture.count("connection lost", paused_at) > 0;
  })) << capture.all_events();
  // What was buffered before the pause has been decoded by now (the connection is closed).
  const size_t frozen_at = capture.frames.size();
  capture.empty = 0;
  ASSERT_TRUE(capture.run([&] { return capture.empty >= 20; }));
  EXPECT_EQ(capture.frames.size(), frozen_at) << "a frame with the connection closed";
  EXPECT_EQ(capture.count("stalled", paused_at), 1u) << capture.all_events();
  const StreamStats stats = *source.stream_stats();
  EXPECT_EQ(stats.stalls, before.stalls + 1);
  EXPECT_EQ(stats.drops, before.drops + 1);
  const auto stop_from = std::chrono::steady_clock::now();
  source.stop();  // returns: the reader is retrying or waiting, bounded by the timeouts
  std::printf("stop() took %.3f s (information, not checked)\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_from).count());
  EXPECT_FALSE(source.stream_stats()->connected);
}

TEST(StreamSourceTest, NobodyServingIsFailedOpensToldOnceAndNoFrames) {
  if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg is not installed (Makefile PACKAGES)";
  const int port = free_port();
  ASSERT_GT(port, 0);
  auto opened = open_frame_source(stream_sensor("http://127.0.0.1:" + std::to_string(port) + "/none.ts"));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  FrameSource& source = **opened;
  source.start();  // the reader starts here, not at open (as the agent does)
  Capture capture(source);
  ASSERT_TRUE(capture.run([&] { return source.stream_stats()->failed_opens >= 3 && capture.saw("stalled"); }))
      << capture.all_events();
  EXPECT_TRUE(capture.frames.empty());
  EXPECT_EQ(capture.count("cannot open http://127.0.0.1:"), 1u) << capture.all_events();
  EXPECT_EQ(capture.count("stalled: no frame for"), 1u) << capture.all_events();
  const StreamStats stats = *source.stream_stats();
  EXPECT_EQ(stats.connects, 0u);
  EXPECT_EQ(stats.frames, 0u);
  EXPECT_FALSE(stats.connected);
  source.stop();  // while waiting to retry: returns without waiting the backoff out
}


// Waits until `done` (true) or `limit` passes (false): a hang guard, not a timing check.
bool eventually(const std::function<bool()>& done, std::chrono::seconds limit = 30s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Opening a source does not read: nothing is decoded (no connection attempt) until start(),
// so a node profiling its models meanwhile is not slowed by a stream; and the stall clock
// starts at start(), so the time before is no outage.
TEST(StreamSourceTest, NothingIsReadBeforeStartAndTheStallClockStartsThere) {
  if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg is not installed (Makefile PACKAGES)";
  SilentListener camera;
  ASSERT_GT(camera.port(), 0);
  config::SensorConfig sensor = stream_sensor("http://127.0.0.1:" + std::to_string(camera.port()) + "/x.ts");
  sensor.stream.stall_timeout = 200ms;
  auto opened = open_frame_source(sensor);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  FrameSource& source = **opened;
  std::this_thread::sleep_for(500ms);  // longer than stall_timeout; a started reader connects in ms
  auto frame = source.next();
  ASSERT_TRUE(frame.ok());
  EXPECT_FALSE(frame->has_value());
  EXPECT_EQ(camera.accepted(), 0) << "the source connected before start()";
  EXPECT_TRUE(source.take_events().empty()) << "no stall, nor anything else, before start()";
  EXPECT_EQ(source.stream_stats()->failed_opens, 0u);

  source.start();
  frame = source.next();  // at once: not stalled, the clock started at start()
  ASSERT_TRUE(frame.ok());
  EXPECT_FALSE(frame->has_value());
  for (const std::string& e : source.take_events()) EXPECT_EQ(e.rfind("stalled", 0), std::string::npos) << e;
  EXPECT_TRUE(eventually([&] { return camera.accepted() >= 1; })) << "start() connects";
  source.stop();
}

// OpenCV opens one FFmpeg capture at a time in the whole process. A reader queued behind a
// dead camera's open leaves the queue when asked to stop: it never opens, so its stop does
// not wait for that open and then for one of its own. Counted by the connections made.
TEST(StreamSourceTest, AStopWhileQueuedBehindADeadCamerasOpenDoesNotOpen) {
  if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg is not installed (Makefile PACKAGES)";
  SilentListener camera;
  ASSERT_GT(camera.port(), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(camera.port()) + "/x.ts";
  auto first = open_frame_source(stream_sensor(url));  // open_timeout 3 s
  auto second = open_frame_source(stream_sensor(url));
  ASSERT_TRUE(first.ok() && second.ok());
  (*first)->start();
  ASSERT_TRUE(eventually([&] { return camera.accepted() >= 1; }));  // the first is in its open
  (*second)->start();
  std::this_thread::sleep_for(500ms);  // lets its reader reach the queue (not a measurement)
  (*second)->request_stop();
  (*first)->request_stop();
  (*second)->stop();
  (*first)->stop();
  EXPECT_EQ(camera.accepted(), 1) << "the stopped second reader still connected";
  EXPECT_EQ((*second)->stream_stats()->failed_opens, 0u);
  EXPECT_EQ((*first)->stream_stats()->failed_opens, 1u);
}

TEST(StreamSourceTest, AStreamWithoutUrlIsAnError) {
  auto opened = open_frame_source(stream_sensor(""));
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("sensor 'street'"), std::string::npos) << opened.error().message;
  EXPECT_NE(opened.error().message.find("url"), std::string::npos) << opened.error().message;
}

}  // namespace
}  // namespace coedge::node
