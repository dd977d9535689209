#include "ipc/worker_checks.h"

#include <limits>

#include <string>

#include "core/job_outcome.h"

namespace coedge::ipc {
namespace {

std::string num(uint64_t v) { return std::to_string(v); }
std::string num(int64_t v) { return std::to_string(v); }

const char* role_name(Role r) {
  switch (r) {
    case Role::kPre: return "pre";
    case Role::kPost: return "post";
    case Role::kServer: return "server";
  }
  return "?";
}

EventCheck violation(Violation code, std::string detail) {
  EventCheck c;
  c.verdict = Verdict::kViolation;
  c.code = code;
  c.detail = std::move(detail);
  return c;
}

// A stamp pair of one stage: each set one in [release - slack, now], start <= end; both set
// when `both`. Empty when sound, else what is wrong.
std::string check_stamps(const char* stage, int64_t start, int64_t end, bool both, int64_t release, int64_t now) {
  // Saturating: release is the agent's (a real time), but this must not overflow whatever it is.
  const int64_t earliest =
      release < std::numeric_limits<int64_t>::min() + kStampSlackUs ? std::numeric_limits<int64_t>::min()
                                                                     : release - kStampSlackUs;
  auto bad = [&](const char* which, int64_t v) -> std::string {
    if (v == 0) return both ? std::string(stage) + "_" + which + " is not set" : std::string();
    if (v < earliest) {
      return std::string(stage) + "_" + which + " " + num(v) + " us is more than 1 s before the job's release " +
             num(release) + " us";
    }
    if (v > now) return std::string(stage) + "_" + which + " " + num(v) + " us is after now " + num(now) + " us";
    return {};
  };
  if (std::string why = bad("start", start); !why.empty()) return why;
  if (std::string why = bad("end", end); !why.empty()) return why;
  if (start != 0 && end != 0 && end < start) {
    return std::string(stage) + "_end " + num(end) + " us is before " + stage + "_start " + num(start) + " us";
  }
  return {};
}

}  // namespace

const char* to_string(Violation v) {
  switch (v) {
    case Violation::kNone: return "none";
    case Violation::kForeignTask: return "foreign_task";
    case Violation::kWrongKind: return "wrong_kind";
    case Violation::kUnknownJob: return "unknown_job";
    case Violation::kWrongStage: return "wrong_stage";
    case Violation::kBadReason: return "bad_reason";
    case Violation::kBadStamps: return "bad_stamps";
    case Violation::kBadChunk: return "bad_chunk";
    case Violation::kBadTensor: return "bad_tensor";
    case Violation::kForgedJob: return "forged_job";
    case Violation::kBadResult: return "bad_result";
    case Violation::kFlood: return "flood";
    case Violation::kCorruptRing: return "corrupt_ring";
  }
  return "unknown";
}

EventCheck check_worker_event(WorkerSource source, const JobEvent& e, const JobView& jobs, int64_t now_us) {
  const bool pre = source.role == Role::kPre;
  const unsigned kind = static_cast<unsigned>(e.kind);
  if (e.ref.task != source.task) {
    EventCheck c = violation(Violation::kForeignTask, "names task " + num(uint64_t{e.ref.task}) + ", not its own (" +
                                                          num(uint64_t{source.task}) + ")");
    const JobFacts f = jobs.lookup(e.ref.job);
    c.drop_job = f.state == JobFacts::State::kOpen && f.task == source.task;
    return c;
  }
  switch (e.kind) {
    case EventKind::kReady:
      if (e.reason != static_cast<uint8_t>(source.role)) {
        return violation(Violation::kWrongKind, "a kReady for role " + num(uint64_t{e.reason}) + " from the " +
                                                    role_name(source.role) + " worker");
      }
      return {};  // its protocol (batch) is the agent's to judge
    case EventKind::kPreDone:
      if (!pre) return violation(Violation::kWrongKind, "kind " + num(uint64_t{kind}) + " (kPreDone) from the post worker");
      break;
    case EventKind::kDone:
      if (pre) return violation(Violation::kWrongKind, "kind " + num(uint64_t{kind}) + " (kDone) from the pre worker");
      break;
    case EventKind::kDropped: break;
    default:
      return violation(Violation::kWrongKind,
                       "kind " + num(uint64_t{kind}) + ", not one a " + role_name(source.role) + " worker sends");
  }

  const JobFacts f = jobs.lookup(e.ref.job);
  if (f.state == JobFacts::State::kNeverReleased) {
    return violation(Violation::kUnknownJob, "job " + num(e.ref.job) + " was never released");
  }
  if (f.state == JobFacts::State::kClosed) {
    EventCheck c;
    c.verdict = Verdict::kIgnore;
    return c;
  }
  if (f.task != source.task) {
    return violation(Violation::kForeignTask, "job " + num(e.ref.job) + " is task " + num(uint64_t{f.task}) + "'s");
  }
  // From here the job is open and the task's own: a violation drops it.
  auto own = [](EventCheck c) {
    c.drop_job = true;
    return c;
  };
  const char* stage = f.stage == JobPhase::kPre ? "pre-processing" : f.stage == JobPhase::kServer ? "the server" : "post-processing";
  switch (e.kind) {
    case EventKind::kPreDone:
      if (f.stage == JobPhase::kServer) {
        return own(violation(Violation::kWrongStage, "kPreDone for job " + num(e.ref.job) + ", already at the server"));
      }
      if (e.reason != 0) return own(violation(Violation::kBadReason, "a kPreDone with reason " + num(uint64_t{e.reason})));
      break;
    case EventKind::kDone:
      if (f.stage != JobPhase::kPost) {
        return own(violation(Violation::kWrongStage, "kDone for job " + num(e.ref.job) + ", at " + stage));
      }
      if (e.reason != 0 && e.reason != kResultNotSent) {
        return own(violation(Violation::kBadReason, "a kDone with reason " + num(uint64_t{e.reason})));
      }
      break;
    default: {  // kDropped
      const bool at_role = pre ? f.stage != JobPhase::kPost : f.stage == JobPhase::kPost;
      if (!at_role) {
        return own(violation(Violation::kWrongStage, std::string("kDropped from the ") + role_name(source.role) +
                                                         " worker for job " + num(e.ref.job) + ", at " + stage));
      }
      const auto cause = static_cast<DropCause>(e.reason);
      if (e.reason >= kDropCauseCount || (cause != DropCause::kBadFrame && cause != DropCause::kOverload)) {
        std::string name = e.reason < kDropCauseCount ? std::string(to_string(cause)) : "outside the vocabulary";
        return own(violation(Violation::kBadReason, "drop cause " + num(uint64_t{e.reason}) + " (" + name +
                                                        "): a worker may claim bad_frame or overload only"));
      }
      break;
    }
  }
  const bool both = e.kind != EventKind::kDropped;
  const std::string why = pre ? check_stamps("pre", e.pre_start_us, e.pre_end_us, both, f.release_us, now_us)
                              : check_stamps("post", e.post_start_us, e.post_end_us, both, f.release_us, now_us);
  if (!why.empty()) return own(violation(Violation::kBadStamps, "job " + num(e.ref.job) + ": " + why));
  return {};
}

TensorCheck check_tensor(const TensorInput& in, const JobTable& table) {
  TensorCheck c;
  auto fail = [&c](Violation code, std::string detail) {
    c.code = code;
    c.detail = std::move(detail);
    return c;
  };
  const TensorHeader& h = in.header;
  if (!in.chunk_published) {
    return fail(Violation::kBadChunk, "a chunk outside the task's tensor pool, or not published in its generation");
  }
  if (h.table_slot >= kJobSlots) {
    return fail(Violation::kBadTensor, "table_slot " + num(uint64_t{h.table_slot}) + " (0 to " +
                                           num(uint64_t{kJobSlots - 1}) + ")");
  }
  const std::optional<JobEntry> entry = table.read(h.table_slot);
  if (!entry) return fail(Violation::kForgedJob, "job-table slot " + num(uint64_t{h.table_slot}) + " is empty or torn");
  if (entry->task != in.task || entry->job != h.job) {
    return fail(Violation::kForgedJob, "job " + num(h.job) + " is not in job-table slot " + num(uint64_t{h.table_slot}) +
                                           " (stale or forged)");
  }
  c.job = entry;  // the task's own job from here: a violation drops it
  if (h.elements != in.expected_elements) {
    return fail(Violation::kBadTensor, "job " + num(h.job) + ": elements " + num(h.elements) + ", the model takes " +
                                           num(in.expected_elements));
  }
  const uint64_t room = in.chunk_bytes < payload_offset<TensorHeader>() ? 0 : (in.chunk_bytes - payload_offset<TensorHeader>()) / sizeof(float);
  if (h.elements > room) {
    return fail(Violation::kBadTensor, "job " + num(h.job) + ": elements " + num(h.elements) + " do not fit its chunk (" +
                                           num(room) + ")");
  }
  if (std::string why = check_stamps("pre", h.pre_start_us, h.pre_end_us, true, entry->release_us, in.now_us);
      !why.empty()) {
    return fail(Violation::kBadStamps, "job " + num(h.job) + ": " + why);
  }
  return c;
}

std::string check_ticket(const FrameTicket& ticket, uint32_t task, bool frame_found, const FrameHeader& frame,
                         uint64_t frame_chunk_bytes) {
  if (ticket.job.task != task) return "a ticket for task " + num(uint64_t{ticket.job.task});
  if (ticket.table_slot >= kJobSlots) return "a ticket with table_slot " + num(uint64_t{ticket.table_slot});
  if (!frame_found) return "a ticket naming a chunk outside the frame pool";
  if (frame.width <= 0 || frame.height <= 0 || frame.channels <= 0 || frame.channels > 4 || frame.stride <= 0) {
    return "a frame of " + num(int64_t{frame.width}) + "x" + num(int64_t{frame.height}) + "x" +
           num(int64_t{frame.channels}) + ", stride " + num(int64_t{frame.stride});
  }
  const uint64_t row = static_cast<uint64_t>(frame.width) * static_cast<uint64_t>(frame.channels);
  const uint64_t room = frame_chunk_bytes < payload_offset<FrameHeader>() ? 0 : frame_chunk_bytes - payload_offset<FrameHeader>();
  if (static_cast<uint64_t>(frame.stride) < row || frame.payload_bytes() > room) {
    return "a frame whose rows (stride " + num(int64_t{frame.stride}) + ", height " + num(int64_t{frame.height}) +
           ") do not fit its chunk";
  }
  return {};
}

std::string check_output(const OutputHeader& header, uint32_t task, uint64_t chunk_bytes) {
  if (header.ref.task != task) return "an output for task " + num(uint64_t{header.ref.task});
  if (header.rank < 0 || header.rank > kMaxRank) return "an output of rank " + num(int64_t{header.rank});
  if (header.dtype != OutputDType::kF32 && header.dtype != OutputDType::kU8) {
    return "an output of dtype " + num(uint64_t{static_cast<uint8_t>(header.dtype)});
  }
  const uint64_t size = header.dtype == OutputDType::kU8 ? 1 : sizeof(float);
  const uint64_t room = chunk_bytes < payload_offset<OutputHeader>() ? 0 : (chunk_bytes - payload_offset<OutputHeader>()) / size;
  if (header.elements > room) return "an output of " + num(header.elements) + " elements, beyond its chunk";
  return {};
}

}  // namespace coedge::ipc
