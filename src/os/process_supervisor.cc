// Exits are detected with waitid(WNOWAIT) so that the exited leader, still a zombie,
// keeps its process-group id reserved while we kill the rest of its group; only then is
// it reaped. That way a kill(-pgid) can never hit a reused id. Starting a child is
// os::spawn (own process group, dies with the agent, stdin /dev/null, 0-2 only).
#include "os/process_supervisor.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "os/errno_text.h"
#include "os/fd.h"
#include "os/spawn.h"

namespace coedge::os {

ProcessSupervisor::~ProcessSupervisor() { stop_all(kDestructorGrace); }

ProcessSupervisor::Child& ProcessSupervisor::child(int id) {
  COEDGE_CHECK(id >= 0 && static_cast<size_t>(id) < children_.size());
  return children_[static_cast<size_t>(id)];
}

const ProcessSupervisor::Child& ProcessSupervisor::child(int id) const {
  COEDGE_CHECK(id >= 0 && static_cast<size_t>(id) < children_.size());
  return children_[static_cast<size_t>(id)];
}

int ProcessSupervisor::add(ChildSpec spec) {
  COEDGE_CHECK(!spec.argv.empty());
  children_.push_back(Child{std::move(spec)});
  return static_cast<int>(children_.size()) - 1;
}

pid_t ProcessSupervisor::pid(int id) const {
  const Child& c = child(id);
  return c.state == State::kRunning ? c.pid : 0;
}

bool ProcessSupervisor::retiring(int id) const { return child(id).state == State::kRetiring; }

int ProcessSupervisor::restarts(int id) const { return std::max(0, child(id).starts - 1); }

Status ProcessSupervisor::start(int id, TimePoint now) {
  Child& c = child(id);
  if (c.state == State::kRunning) {
    return Error{
        ErrorCode::kInvalidInput,
        "cannot start '" + c.spec.name + "': already running as pid " + std::to_string(c.pid)};
  }
  if (c.state == State::kRetiring) terminate({id}, Duration(0));
  c.consecutive_exits = 0;
  return spawn(c, now);
}

void ProcessSupervisor::retire(int id, TimePoint now, Duration grace) {
  Child& c = child(id);
  if (c.state != State::kRunning) {
    if (c.state != State::kRetiring) c.state = State::kIdle;  // a pending restart is cancelled
    return;
  }
  ::kill(-c.pid, SIGTERM);
  ::kill(-c.pid, SIGCONT);  // a stopped child would not see SIGTERM until continued
  c.state = State::kRetiring;
  c.kill_at = now + grace;
}

Duration ProcessSupervisor::next_delay(Child& c) {
  Duration delay = std::min(c.spec.backoff_initial, c.spec.backoff_max);
  for (int k = 0; k < c.consecutive_exits && delay < c.spec.backoff_max; ++k) {
    delay = std::min(delay * 2, c.spec.backoff_max);
  }
  ++c.consecutive_exits;
  return delay;
}

Status ProcessSupervisor::spawn(Child& c, TimePoint now) {
  const ChildSpec& spec = c.spec;
  const std::string who = "cannot start '" + spec.name + "'";
  Fd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null.valid()) {
    return Error{ErrorCode::kIo, who + ": cannot open /dev/null: " + errno_text(errno)};
  }
  Fd log;
  if (!spec.log_path.empty()) {
    log.reset(::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log.valid()) {
      return Error{ErrorCode::kIo,
                   who + ": cannot open log file '" + spec.log_path + "': " + errno_text(errno)};
    }
  }
  SpawnOptions options;
  options.env = spec.env;
  options.cwd = spec.cwd;
  options.stdin_fd = spec.stdin_fd >= 0 ? spec.stdin_fd : dev_null.get();
  options.stdout_fd = log.get();
  options.stderr_fd = log.get();
  options.own_process_group = true;
  options.die_with_parent = true;
  Result<pid_t> pid = os::spawn(spec.argv, options);
  if (!pid.ok()) return Error{pid.error().code, who + ": " + pid.error().message};

  c.state = State::kRunning;
  c.pid = *pid;
  c.started_at = now;
  ++c.starts;
  return Ok{};
}

namespace {

ChildEvent make_event(int id, const std::string& name, pid_t pid, ChildEvent::Kind kind,
                      TimePoint now) {
  ChildEvent e;
  e.id = id;
  e.name = name;
  e.pid = pid;
  e.kind = kind;
  e.at = now;
  return e;
}

// Whether `pid` has exited, without reaping it. A pid that is no longer our child
// (ECHILD) counts as exited.
bool has_exited(pid_t pid) {
  siginfo_t info{};
  for (;;) {
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0) {
      return info.si_pid == pid;
    }
    if (errno != EINTR) return true;
  }
}

// Kills what is left of the exited leader's group, then reaps the leader. Returns its
// wait status, or -1 when it was not ours to reap.
int reap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  return wait_for_exit(pid);
}

}  // namespace

std::vector<ChildEvent> ProcessSupervisor::poll(TimePoint now) {
  std::vector<ChildEvent> events;
  for (size_t i = 0; i < children_.size(); ++i) {
    Child& c = children_[i];
    const int id = static_cast<int>(i);
    const bool retiring = c.state == State::kRetiring;
    if (c.state != State::kRunning && !retiring) continue;
    if (!has_exited(c.pid)) {
      if (retiring && now >= c.kill_at) ::kill(-c.pid, SIGKILL);  // reaped by a later poll
      continue;
    }
    const int status = reap(c.pid);
    ChildEvent exited = make_event(id, c.spec.name, c.pid, ChildEvent::Kind::kExited, now);
    if (status >= 0 && WIFEXITED(status)) exited.exit_code = WEXITSTATUS(status);
    if (status >= 0 && WIFSIGNALED(status)) exited.signal = WTERMSIG(status);
    exited.retired = retiring;
    events.push_back(std::move(exited));
    c.pid = 0;
    if (!c.spec.restart || retiring) {
      c.state = State::kIdle;
      continue;
    }
    if (now - c.started_at >= c.spec.stable_after) c.consecutive_exits = 0;
    c.state = State::kRestartPending;
    c.restart_at = now + next_delay(c);
    ChildEvent scheduled = make_event(id, c.spec.name, 0, ChildEvent::Kind::kRestartScheduled, now);
    scheduled.restart_at = c.restart_at;
    events.push_back(std::move(scheduled));
  }

  for (size_t i = 0; i < children_.size(); ++i) {
    Child& c = children_[i];
    const int id = static_cast<int>(i);
    if (c.state != State::kRestartPending || now < c.restart_at) continue;
    Status s = spawn(c, now);
    if (s) {
      ChildEvent started = make_event(id, c.spec.name, c.pid, ChildEvent::Kind::kStarted, now);
      events.push_back(std::move(started));
      continue;
    }
    ChildEvent failed = make_event(id, c.spec.name, 0, ChildEvent::Kind::kStartFailed, now);
    failed.message = s.error().message;
    events.push_back(std::move(failed));
    // A failed start backs off like a crash: the binary may be being replaced.
    c.restart_at = now + next_delay(c);
    ChildEvent scheduled = make_event(id, c.spec.name, 0, ChildEvent::Kind::kRestartScheduled, now);
    scheduled.restart_at = c.restart_at;
    events.push_back(std::move(scheduled));
  }
  return events;
}

void ProcessSupervisor::kill(int id, int sig) {
  const Child& c = child(id);
  if (c.state == State::kRunning) ::kill(-c.pid, sig);
}

void ProcessSupervisor::stop(int id, Duration grace) { terminate({id}, grace); }

void ProcessSupervisor::stop_all(Duration grace) {
  std::vector<int> ids(children_.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>(i);
  terminate(ids, grace);
}

void ProcessSupervisor::terminate(const std::vector<int>& ids, Duration grace) {
  std::vector<Child*> running;
  for (int id : ids) {
    Child& c = child(id);
    if (c.state == State::kRunning || c.state == State::kRetiring) {
      ::kill(-c.pid, SIGTERM);
      ::kill(-c.pid, SIGCONT);  // a stopped child would not see SIGTERM until continued
      running.push_back(&c);
    } else {
      c.state = State::kIdle;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    std::erase_if(running, [](Child* c) {
      if (!has_exited(c->pid)) return false;
      reap(c->pid);
      c->pid = 0;
      c->state = State::kIdle;
      return true;
    });
    if (running.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (Child* c : running) {
    reap(c->pid);  // SIGKILLs the whole group first
    c->pid = 0;
    c->state = State::kIdle;
  }
}

}  // namespace coedge::os
