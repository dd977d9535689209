// A ProcessLauncher for tests: no process is started. The test decides when a child
// exits and how (exit(), crash()), which signals it ignores, and whether a start fails;
// the fake records every start requested, every signal sent and every reap, and checks
// the launcher's contract from the caller's side (no signal or reap of a pid after it was
// reaped, no pid it did not start). Its clock (now(), sleep_for()) is a manual one, only
// used by ProcessSupervisor::stop()/stop_all(): sleep_for() advances it, then runs the
// test's on_sleep hook (e.g. "this child leaves 300 ms into the grace").
//
// Signals act at once: SIGKILL always ends a running child; SIGCONT, SIGSTOP, SIGTSTP,
// SIGCHLD, SIGURG and SIGWINCH do nothing; any other signal ends it unless ignore()d. An
// ended child is a zombie until reaped (try_reap()/kill_and_reap()). pids start at 1000
// and are never reused. Not thread-safe.
#pragma once

#include <csignal>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "os/process_launcher.h"

namespace coedge::os::testing {

class FakeProcessLauncher final : public ProcessLauncher {
 public:
  struct StartRequest {
    LaunchSpec spec;
    pid_t pid = 0;  // 0: the start failed
  };
  struct Signal {
    pid_t pid = 0;
    int sig = 0;
    bool operator==(const Signal&) const = default;
    friend std::ostream& operator<<(std::ostream& out, const Signal& s) {
      return out << "signal " << s.sig << " to " << s.pid;
    }
  };
  struct Reap {
    pid_t pid = 0;
    bool forced = false;  // kill_and_reap() (else try_reap() of an ended child)
    bool operator==(const Reap&) const = default;
    friend std::ostream& operator<<(std::ostream& out, const Reap& r) {
      return out << (r.forced ? "kill_and_reap " : "try_reap ") << r.pid;
    }
  };

  explicit FakeProcessLauncher(TimePoint now = kEpoch) : now_(now) {}

  // --- the test's controls ---
  // Ends a running child as exit(code) / as killed by `sig`. REQUIRES running(pid).
  void exit(pid_t pid, int code) { end(pid, ExitStatus{code, 0}); }
  void crash(pid_t pid, int sig) { end(pid, ExitStatus{-1, sig}); }
  // The child survives `sig` (SIGKILL cannot be ignored).
  void ignore(pid_t pid, int sig) { children_.at(pid).ignored.insert(sig); }
  // While set, every start() fails with this error.
  void fail_starts(std::optional<Error> error) { fail_ = std::move(error); }
  void set_now(TimePoint t) { now_ = t; }
  std::function<void(TimePoint now)> on_sleep;

  // --- what happened ---
  const std::vector<StartRequest>& starts() const { return starts_; }
  const std::vector<Signal>& signals() const { return signals_; }
  const std::vector<Reap>& reaps() const { return reaps_; }
  std::vector<Signal> signals_to(pid_t pid) const {
    std::vector<Signal> out;
    for (const Signal& s : signals_) {
      if (s.pid == pid) out.push_back(s);
    }
    return out;
  }
  bool running(pid_t pid) const {
    auto it = children_.find(pid);
    return it != children_.end() && !it->second.ended;
  }
  bool reaped(pid_t pid) const {
    auto it = children_.find(pid);
    return it != children_.end() && it->second.reaped;
  }
  // Started and not reaped (running or zombie).
  int unreaped() const {
    int n = 0;
    for (const auto& [pid, c] : children_) n += c.reaped ? 0 : 1;
    return n;
  }
  Duration slept() const { return slept_; }
  int sleeps() const { return sleeps_; }
  // The caller's breaches of the contract, one line each; empty when none.
  const std::string& misuse() const { return misuse_; }

  // --- ProcessLauncher ---
  Result<pid_t> start(const LaunchSpec& spec) override {
    if (spec.argv.empty()) misuse_ += "start() with an empty argv\n";
    if (fail_) {
      starts_.push_back({spec, 0});
      return *fail_;
    }
    const pid_t pid = next_pid_++;
    children_[pid] = Child{};
    starts_.push_back({spec, pid});
    return pid;
  }

  void signal_group(pid_t pid, int sig) override {
    signals_.push_back({pid, sig});
    Child* c = live(pid, "signal_group");
    if (c == nullptr || c->ended) return;
    static const std::set<int> harmless = {SIGCONT, SIGSTOP, SIGTSTP, SIGCHLD, SIGURG, SIGWINCH};
    if (sig == SIGKILL || (!harmless.contains(sig) && !c->ignored.contains(sig))) {
      c->ended = true;
      c->status = ExitStatus{-1, sig};
    }
  }

  std::optional<ExitStatus> try_reap(pid_t pid) override {
    Child* c = live(pid, "try_reap");
    if (c == nullptr) return ExitStatus{};
    if (!c->ended) return std::nullopt;
    c->reaped = true;
    reaps_.push_back({pid, false});
    return c->status;
  }

  ExitStatus kill_and_reap(pid_t pid) override {
    Child* c = live(pid, "kill_and_reap");
    if (c == nullptr) return ExitStatus{};
    if (!c->ended) {
      c->ended = true;
      c->status = ExitStatus{-1, SIGKILL};
    }
    c->reaped = true;
    reaps_.push_back({pid, true});
    return c->status;
  }

  TimePoint now() override { return now_; }

  void sleep_for(Duration d) override {
    if (d <= Duration(0)) misuse_ += "sleep_for() without a positive duration\n";
    now_ += d;
    slept_ += d;
    ++sleeps_;
    COEDGE_CHECK(sleeps_ <= 1'000'000);  // a wait that never ends: abort rather than hang
    if (on_sleep) on_sleep(now_);
  }

 private:
  struct Child {
    bool ended = false;
    bool reaped = false;
    ExitStatus status;
    std::set<int> ignored;
  };

  void end(pid_t pid, ExitStatus status) {
    Child& c = children_.at(pid);
    COEDGE_CHECK(!c.ended);
    c.ended = true;
    c.status = status;
  }

  // The child `pid`, or null (recorded as misuse) when it was never started or is reaped.
  Child* live(pid_t pid, const char* what) {
    auto it = children_.find(pid);
    if (it == children_.end()) {
      misuse_ += std::string(what) + "(" + std::to_string(pid) + "): not a pid this launcher started\n";
      return nullptr;
    }
    if (it->second.reaped) {
      misuse_ += std::string(what) + "(" + std::to_string(pid) + ") after it was reaped\n";
      return nullptr;
    }
    return &it->second;
  }

  TimePoint now_;
  Duration slept_{0};
  int sleeps_ = 0;
  pid_t next_pid_ = 1000;
  std::map<pid_t, Child> children_;
  std::optional<Error> fail_;
  std::vector<StartRequest> starts_;
  std::vector<Signal> signals_;
  std::vector<Reap> reaps_;
  std::string misuse_;
};

}  // namespace coedge::os::testing
