#include "node/server_process.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "config/model_backend.h"
#include "config/node_config_wire.h"
#include "core/clock.h"
#include "ipc/bell_waiter.h"
#include "ipc/job_table.h"
#include "ipc/messages.h"
#include "ipc/node_topology.h"
#include "ipc/shm_segment.h"
#include "ipc/worker_checks.h"
#include "node/backend_set.h"
#include "node/core/inference_engine.h"
#include "node/core/model_loader.h"
#include "node/core/node_scenario.h"
#include "os/fd.h"

namespace coedge::node {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int64_t us(TimePoint t) { return MonotonicClock::to_monotonic_us(t); }

void send(ipc::Ring& events, const ipc::JobEvent& event) {
  ipc::send_event(events, event, "coedge server");
}

ipc::JobRef ref_of(const EngineInput& in) {
  ipc::JobRef ref;
  ref.job = in.job.id;
  ref.task = in.job.task;
  ref.release_us = us(in.job.release);
  ref.deadline_us = us(in.job.deadline);
  return ref;
}

// A tensor chunk as the engine's 64-bit token: pool and index (16 bits each, checked by
// task_segment_plan) and the publication's generation.
uint64_t pack(ipc::ChunkRef ref) {
  return (uint64_t{ref.pool} << 48) | (uint64_t{ref.index & 0xffff} << 32) | ref.generation;
}
ipc::ChunkRef unpack(uint64_t token) {
  return ipc::ChunkRef{static_cast<uint32_t>(token >> 48), static_cast<uint32_t>((token >> 32) & 0xffff),
                       static_cast<uint32_t>(token), 0};
}

// Per task: the server's ends of the rings, the pool its outputs are written into, and
// the agent's job table of the task (releases and deadlines).
struct TaskPorts {
  ipc::Ring tensors;
  ipc::Ring outputs;
  ipc::Pool output_pool;
  ipc::Pool tensor_pool;
  ipc::JobTable jobs;
};

// A tensor the server refused (ipc::check_tensor): the job, if the table says it is the
// task's, is dropped as protocol_violation; the agent is told (kViolation), and kills
// the pre worker. Logged (the first 20 per task, then every 1000th).
void refuse_tensor(ipc::Ring& events, uint32_t task, const std::string& name, uint64_t named_job,
                   const ipc::TensorCheck& c, std::vector<uint64_t>& refused) {
  if (c.job) {
    ipc::JobEvent drop;
    drop.ref.job = c.job->job;
    drop.ref.task = task;
    drop.ref.release_us = c.job->release_us;
    drop.ref.deadline_us = c.job->deadline_us;
    drop.kind = ipc::EventKind::kDropped;
    drop.reason = static_cast<uint8_t>(DropCause::kProtocolViolation);
    send(events, drop);
  }
  ipc::JobEvent told;
  told.ref.task = task;
  told.ref.job = named_job;
  told.kind = ipc::EventKind::kViolation;
  told.reason = static_cast<uint8_t>(c.code);
  send(events, told);
  const uint64_t n = ++refused[task];
  if (n <= 20 || n % 1000 == 0) {
    std::fprintf(stderr, "coedge server: task %s: a tensor refused (%s: %s; %llu so far)\n", name.c_str(),
                 ipc::to_string(c.code), c.detail.c_str(), static_cast<unsigned long long>(n));
  }
}

class ShmSink final : public EngineSink {
 public:
  ShmSink(std::vector<TaskPorts>& ports, ipc::Ring& events) : ports_(ports), events_(events) {}

  void dropped(const EngineInput& input, DropCause reason, TimePoint) override {
    ipc::JobEvent event;
    event.ref = ref_of(input);
    event.kind = ipc::EventKind::kDropped;
    event.reason = static_cast<uint8_t>(reason);
    send(events_, event);
  }

  void output(const EngineOutput& out) override {
    const EngineInput& in = *out.input;
    TaskPorts& port = ports_[in.job.task];
    ipc::JobEvent event;
    event.ref = ref_of(in);
    event.batch = out.batch;
    event.infer_start_us = us(out.infer_start);
    event.infer_end_us = us(out.infer_end);
    // A segmentation job's output is its class ids, one byte per pixel (the engine took
    // the argmax); any other job's, its float32 item.
    const bool u8 = !out.labels.empty();
    const uint64_t payload = u8 ? out.labels.size_bytes() : out.item.size_bytes();
    const uint64_t bytes = ipc::payload_offset<ipc::OutputHeader>() + payload;
    ipc::ChunkRef chunk;
    if (bytes > port.output_pool.chunk_bytes() || !port.output_pool.alloc(chunk)) {
      event.kind = ipc::EventKind::kDropped;
      event.reason = static_cast<uint8_t>(DropCause::kOverload);
      send(events_, event);
      return;
    }
    auto* header = new (port.output_pool.data(chunk)) ipc::OutputHeader();
    header->ref = event.ref;
    header->pre_start_us = us(in.pre_start);
    header->pre_end_us = us(in.pre_end);
    header->infer_start_us = event.infer_start_us;
    header->infer_end_us = event.infer_end_us;
    header->batch = out.batch;
    header->rank = static_cast<int32_t>(std::min<size_t>(out.item_shape.size(), ipc::kMaxRank));
    for (int i = 0; i < header->rank; ++i) header->shape[i] = out.item_shape[static_cast<size_t>(i)];
    header->aux = in.aux;
    header->elements = u8 ? out.labels.size() : out.item.size();
    header->dtype = u8 ? ipc::OutputDType::kU8 : ipc::OutputDType::kF32;
    std::memcpy(reinterpret_cast<uint8_t*>(header) + ipc::payload_offset<ipc::OutputHeader>(),
                u8 ? static_cast<const void*>(out.labels.data()) : static_cast<const void*>(out.item.data()),
                payload);
    // Tell the ledger first that the job moved to post-processing (see worker_sdk.cc).
    event.kind = ipc::EventKind::kInferred;
    send(events_, event);
    port.output_pool.publish(chunk, ipc::kSoleHolder);
    if (!port.outputs.push(&chunk)) {
      port.output_pool.release(chunk, ipc::kSoleHolder);
      event.kind = ipc::EventKind::kDropped;
      event.reason = static_cast<uint8_t>(DropCause::kOverload);
      send(events_, event);
    }
  }

  void release(const EngineInput& input) override {
    ports_[input.job.task].tensor_pool.release(unpack(input.token), ipc::kSoleHolder);
  }

 private:
  std::vector<TaskPorts>& ports_;
  ipc::Ring& events_;
};

}  // namespace

Result<config::NodeConfig> receive_server_config(int fd, const std::string& digest) {
  const std::string origin = "the node config from the agent (descriptor " + std::to_string(fd) + ")";
  if (digest.empty()) {
    return Error{ErrorCode::kInvalidInput, origin + ": no --config-digest given (`coedge node` starts the server)"};
  }
  auto text = os::read_from_start(fd, kMaxServerConfigBytes);
  if (!text.ok()) return Error{text.error().code, origin + ": " + text.error().message};
  if (text->empty()) {
    return Error{ErrorCode::kInvalidInput,
                 origin + ": empty (`coedge node` starts the server and hands it the config as its stdin)"};
  }
  return config::read_node_config_wire(*text, origin, digest);
}

Result<ServerShm> parse_server_shm(const std::string& fds, const std::string& sizes, size_t tasks) {
  auto split = [](const std::string& text) {
    std::vector<std::string> parts;
    size_t pos = 0;
    while (!text.empty() && pos <= text.size()) {
      const size_t comma = text.find(',', pos);
      parts.push_back(text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    return parts;
  };
  auto number = [](const std::string& text, uint64_t max, uint64_t& out) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || v > max) return false;
    out = v;
    return true;
  };
  const auto fd_parts = split(fds);
  const auto size_parts = split(sizes);
  if (fd_parts.size() != tasks + 1 || size_parts.size() != tasks) {
    return Error{ErrorCode::kInvalidInput,
                 "--shm-fds '" + fds + "' and --shm-task-sizes '" + sizes + "': the node config has " +
                     std::to_string(tasks) + " tasks, so " + std::to_string(tasks + 1) + " descriptors (control first) and " +
                     std::to_string(tasks) + " sizes are needed (`coedge node` starts the server)"};
  }
  ServerShm shm;
  for (size_t i = 0; i < fd_parts.size(); ++i) {
    uint64_t fd = 0;
    if (!number(fd_parts[i], 1u << 20, fd) || fd < 3) {
      return Error{ErrorCode::kInvalidInput, "--shm-fds: bad descriptor '" + fd_parts[i] + "' (3 or more)"};
    }
    (i == 0 ? shm.control_fd : shm.task_fds.emplace_back()) = static_cast<int>(fd);
  }
  for (const std::string& part : size_parts) {
    const size_t colon = part.find(':');
    uint64_t tensor = 0, output = 0;
    if (colon == std::string::npos || !number(part.substr(0, colon), uint64_t{1} << 40, tensor) ||
        !number(part.substr(colon + 1), uint64_t{1} << 40, output)) {
      return Error{ErrorCode::kInvalidInput, "--shm-task-sizes: bad 'TENSOR:OUTPUT' bytes '" + part + "'"};
    }
    shm.tensor_bytes.push_back(tensor);
    shm.output_bytes.push_back(output);
  }
  return shm;
}

int run_server_process(const config::NodeConfig& config, const std::string& digest, const ServerShm& shm) {
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  const Scenario scenario = node_scenario(config);
  auto scheduler = policy::make_local_scheduler(config.scheduler, scenario);
  infer::BackendOptions backend_options;
  backend_options.threads = config.backend_threads;
  BackendSet backends(backend_options);
  std::vector<ModelLoader::ModelFile> model_files;
  for (size_t m = 0; m < config.models.size(); ++m) {
    auto backend = backends.get(config::backend_of(config, m));
    if (!backend.ok()) {
      std::fprintf(stderr, "coedge server: model %s: %s\n", config.models[m].name.c_str(),
                   backend.error().message.c_str());
      return 2;
    }
    model_files.push_back({config.models[m].name, config.model_files[m], *backend});
  }
  // The control segment and every task's, mapped from the plans computed here; the
  // descriptors are closed once mapped (a restarted server is handed them again).
  COEDGE_CHECK(shm.task_fds.size() == config.tasks.size());
  std::vector<std::string> task_names;
  for (const TaskSpec& t : config.tasks) task_names.push_back(t.name);
  auto segment = ipc::Segment::map(shm.control_fd, ipc::control_segment_plan(task_names), ipc::Access::kReadWrite);
  if (!segment.ok()) {
    std::fprintf(stderr, "coedge server: the control segment: %s\n", segment.error().message.c_str());
    return 1;
  }
  ::close(shm.control_fd);
  auto events = (*segment)->ring(ipc::kServerEvents);
  auto control = (*segment)->ring(ipc::kServerControl);
  auto bell = (*segment)->doorbell(ipc::kServerBell);
  if (!events.ok() || !control.ok() || !bell.ok()) {
    std::fprintf(stderr, "coedge server: the node's shared memory lacks the server's parts\n");
    return 1;
  }
  std::vector<std::unique_ptr<ipc::Segment>> task_segments;
  std::vector<TaskPorts> ports;
  std::vector<ipc::Doorbell> task_bells;
  for (size_t i = 0; i < config.tasks.size(); ++i) {
    const TaskSpec& t = config.tasks[i];
    const ipc::TaskChannels channels{t.name, shm.tensor_bytes[i], shm.output_bytes[i]};
    auto mapped = ipc::Segment::map(shm.task_fds[i], ipc::task_segment_plan(channels), ipc::Access::kReadWrite);
    if (!mapped.ok()) {
      std::fprintf(stderr, "coedge server: task %s: %s\n", t.name.c_str(), mapped.error().message.c_str());
      return 1;
    }
    ::close(shm.task_fds[i]);
    const ipc::Segment& s = **mapped;
    auto tensors = s.ring(ipc::tensor_ring(t.name));
    auto outputs = s.ring(ipc::output_ring(t.name));
    auto output_pool = s.pool(ipc::output_pool(t.name));
    auto tensor_pool = s.pool(ipc::tensor_pool(t.name));
    auto task_bell = s.doorbell(ipc::kServerBell);
    auto jobs = (*segment)->pool(ipc::job_table_pool(t.name));  // in the control segment
    if (!tensors.ok() || !outputs.ok() || !output_pool.ok() || !tensor_pool.ok() || !task_bell.ok() || !jobs.ok() ||
        jobs->chunk_bytes() < ipc::JobTable::kBytes) {
      std::fprintf(stderr, "coedge server: the node's shared memory lacks task %s\n", t.name.c_str());
      return 1;
    }
    ports.push_back({*tensors, *outputs, *output_pool, *tensor_pool,
                     ipc::JobTable(jobs->data(ipc::ChunkRef{jobs->pool_index(), 0, 0, 0}))});
    task_bells.push_back(*task_bell);
    task_segments.push_back(std::move(*mapped));
  }
  // Sleeps on its control bell and every task's server bell; a task whose bell keeps
  // waking it without tensors is left out for a while (ipc/bell_waiter.h).
  ipc::BellWaiter waiter(*bell, std::move(task_bells), "coedge server");
  bool woke = false;  // the last wait ended: its wakes are still to be settled
  uint64_t floods_logged = 0;
  // A restarted server starts clean: the jobs its predecessor held were closed by the
  // agent, so their tensors are released and any output it was writing is freed.
  for (TaskPorts& p : ports) {
    p.tensors.drain([&](const void* e) {
      ipc::ChunkRef ref;
      std::memcpy(&ref, e, sizeof ref);
      p.tensor_pool.release(ref, ipc::kSoleHolder);
    });
    p.tensor_pool.release_all(ipc::kSoleHolder);
    p.output_pool.reclaim_filling();
  }
  // Commands sent to a predecessor are stale: the agent sends its loads again when it
  // hears this server is ready.
  control->drain([](const void*) {});
  MonotonicClock clock;
  ShmSink sink(ports, *events);
  InferenceEngine engine(scenario, std::move(scheduler),
                         std::vector<infer::Model*>(scenario.models.size(), nullptr), sink, clock);
  ModelLoader loader(
      std::move(model_files), [&engine](uint32_t m, infer::Model* model) { engine.set_model(m, model); },
      [&events](uint32_t m, ipc::ModelState state) {
        ipc::JobEvent event;
        event.kind = ipc::EventKind::kModel;
        event.batch = static_cast<int32_t>(m);
        event.reason = static_cast<uint8_t>(state);
        send(*events, event);
      });

  ipc::JobEvent ready;
  ready.kind = ipc::EventKind::kReady;
  ready.reason = static_cast<uint8_t>(ipc::Role::kServer);
  send(*events, ready);
  std::fprintf(stderr, "coedge server: node %s, config %s from the agent (%zu tasks, %zu models), scheduler %s, "
               "ready; models load on request\n",
               config.name.c_str(), digest.c_str(), config.tasks.size(), config.models.size(),
               config.scheduler.text().c_str());

  TimePoint wake_at = TimePoint::max();
  std::vector<uint64_t> refused(ports.size(), 0);  // per task: tensors refused (for the log's rate)
  // Per task and job-table slot: the job whose tensor this server took. A second tensor of
  // one job (a replay, to get the shared accelerator more often) is refused.
  std::vector<std::array<uint64_t, ipc::kJobSlots>> accepted(ports.size());
  for (auto& a : accepted) a.fill(0);
  std::vector<bool> got(ports.size());
  while (!g_stop) {
    waiter.arm();  // before the rings are looked at: a ring from now on ends the wait at once
    bool arrived = loader.poll();
    while (const void* entry = control->peek()) {
      ipc::ServerCommand command;
      std::memcpy(&command, entry, sizeof command);
      control->commit();
      loader.on_command(command);
    }
    for (size_t t = 0; t < ports.size(); ++t) {
      got[t] = ports[t].tensors.peek() != nullptr;
      // At most a ring's worth per task per pass: a pre worker that keeps pushing cannot
      // hold this loop (the rest waits for the next pass).
      for (uint32_t n = 0; n < ports[t].tensors.capacity(); ++n) {
        const void* entry = ports[t].tensors.peek();
        if (entry == nullptr) break;
        ipc::ChunkRef ref;
        std::memcpy(&ref, entry, sizeof ref);
        // The server keeps the chunk while the job waits; the ring entry goes now.
        ports[t].tensors.commit();
        arrived = true;
        // Untrusted (the task's pre worker wrote it): the header is copied once, then
        // checked; the job's identity, release and deadline are the agent's job table's,
        // the task is the ring's, the model and priority the scenario's.
        const auto task = static_cast<uint32_t>(t);
        const void* chunk = ports[t].tensor_pool.published(ref);
        ipc::TensorInput check;
        check.task = task;
        check.chunk_published = chunk != nullptr;
        if (chunk != nullptr) std::memcpy(&check.header, chunk, sizeof check.header);
        check.expected_elements = engine.item_elements(scenario.tasks[t].model);
        check.chunk_bytes = ports[t].tensor_pool.chunk_bytes();
        check.now_us = MonotonicClock::monotonic_us();
        if (check.expected_elements == 0) check.expected_elements = check.header.elements;  // no model yet: the engine drops it as not_ready
        ipc::TensorCheck verdict = ipc::check_tensor(check, ports[t].jobs);
        if (verdict.code == ipc::Violation::kNone && accepted[t][check.header.table_slot] == verdict.job->job) {
          verdict.code = ipc::Violation::kForgedJob;
          verdict.detail = "a second tensor of job " + std::to_string(verdict.job->job);
        }
        if (verdict.code != ipc::Violation::kNone) {
          if (chunk != nullptr) ports[t].tensor_pool.release(ref, ipc::kSoleHolder);
          refuse_tensor(*events, task, config.tasks[t].name, check.header.job, verdict, refused);
          break;  // one refusal per task and pass: the agent kills the worker; the rest waits
        }
        accepted[t][check.header.table_slot] = verdict.job->job;
        const ipc::TensorHeader& header = check.header;
        EngineInput in;
        in.job.id = verdict.job->job;
        in.job.task = static_cast<TaskIndex>(t);
        in.job.model = scenario.tasks[t].model;
        in.job.release = MonotonicClock::from_monotonic_us(verdict.job->release_us);
        in.job.deadline = MonotonicClock::from_monotonic_us(verdict.job->deadline_us);
        in.job.priority = scenario.tasks[t].priority;
        in.data = reinterpret_cast<const float*>(static_cast<const uint8_t*>(chunk) +
                                                 ipc::payload_offset<ipc::TensorHeader>());
        in.elements = header.elements;
        in.pre_start = MonotonicClock::from_monotonic_us(header.pre_start_us);
        in.pre_end = MonotonicClock::from_monotonic_us(header.pre_end_us);
        in.aux = header.aux;
        in.token = pack(ref);
        engine.submit(in);
      }
    }
    if (woke) {
      woke = false;
      for (uint32_t t : waiter.woken()) {
        if (!waiter.settle(t, got[t], clock.now())) continue;
        // The agent counts it against the task's pre worker (whose ring this bell serves).
        ipc::JobEvent told;
        told.ref.task = t;
        told.kind = ipc::EventKind::kViolation;
        told.reason = static_cast<uint8_t>(ipc::Violation::kFlood);
        send(*events, told);
        if (++floods_logged <= 5 || floods_logged % 100 == 0) {
          std::fprintf(stderr, "coedge server: task %s's bell wakes the server without tensors (a flood): ignored "
                               "for a while, its ring is still read\n", config.tasks[t].name.c_str());
        }
      }
    }
    const bool had_batch = engine.ran_batch();
    wake_at = engine.step();
    if (engine.ran_batch() || arrived || had_batch) continue;  // look again before sleeping
    // A load in progress finishes without ringing the bell: look at it at least this often.
    const Duration cap = loader.loading() ? std::chrono::milliseconds(20) : std::chrono::milliseconds(200);
    const Duration timeout =
        wake_at == TimePoint::max() ? cap : std::clamp(wake_at - clock.now(), Duration(0), cap);
    waiter.wait(timeout, clock.now());
    woke = true;
  }
  engine.drop_all(DropCause::kShutdown);
  loader.wait();
  return 0;
}

}  // namespace coedge::node
