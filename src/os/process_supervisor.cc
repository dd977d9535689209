// Every effect on the OS goes through launcher_, every wait through its clock. A child's
// pid is used for signals only while it runs or retires (not yet reaped): the launcher
// reaps it only after killing the rest of its group, so a signal never hits a reused id.
#include "os/process_supervisor.h"

#include <algorithm>

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
  launcher_->signal_group(c.pid, SIGTERM);
  launcher_->signal_group(c.pid, SIGCONT);  // a stopped child would not see SIGTERM until continued
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
  Result<pid_t> pid = launcher_->start(c.spec);
  if (!pid.ok()) {
    return Error{pid.error().code, "cannot start '" + c.spec.name + "': " + pid.error().message};
  }
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

}  // namespace

std::vector<ChildEvent> ProcessSupervisor::poll(TimePoint now) {
  std::vector<ChildEvent> events;
  for (size_t i = 0; i < children_.size(); ++i) {
    Child& c = children_[i];
    const int id = static_cast<int>(i);
    const bool retiring = c.state == State::kRetiring;
    if (c.state != State::kRunning && !retiring) continue;
    const std::optional<ExitStatus> status = launcher_->try_reap(c.pid);
    if (!status) {
      if (retiring && now >= c.kill_at) launcher_->signal_group(c.pid, SIGKILL);  // reaped by a later poll
      continue;
    }
    ChildEvent exited = make_event(id, c.spec.name, c.pid, ChildEvent::Kind::kExited, now);
    exited.exit_code = status->exit_code;
    exited.signal = status->signal;
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
  if (c.state == State::kRunning) launcher_->signal_group(c.pid, sig);
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
      launcher_->signal_group(c.pid, SIGTERM);
      launcher_->signal_group(c.pid, SIGCONT);  // a stopped child would not see SIGTERM until continued
      running.push_back(&c);
    } else {
      c.state = State::kIdle;
    }
  }
  const TimePoint deadline = launcher_->now() + grace;
  for (;;) {
    std::erase_if(running, [this](Child* c) {
      if (!launcher_->try_reap(c->pid)) return false;
      c->pid = 0;
      c->state = State::kIdle;
      return true;
    });
    if (running.empty() || launcher_->now() >= deadline) break;
    launcher_->sleep_for(kStopPollInterval);
  }
  for (Child* c : running) {
    launcher_->kill_and_reap(c->pid);  // SIGKILLs the whole group first
    c->pid = 0;
    c->state = State::kIdle;
  }
}

}  // namespace coedge::os
