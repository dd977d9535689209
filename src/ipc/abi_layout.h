// The frozen binary layout of every message a worker shares with the agent and the server
// (ipc/messages.h, ipc/shm_segment.h's ChunkRef): the C SDK (sdk/include/coedge/worker.h)
// and every built worker depend on these sizes and offsets. Computed once by the compiler
// (x86-64 and aarch64 Linux, LP64) and frozen here: a change that moves anything fails the
// build, and is an ABI bump (COEDGE_WORKER_ABI_VERSION, ipc::kWorkerProtocol,
// docs/WORKER_SDK.md "ABI versioning"). Included at the end of messages.h, so every user
// of the messages checks them. The ring header and chunk slot, private to
// shm_segment.cc, are asserted there.
#pragma once

#include <cstddef>
#include <type_traits>

#include "ipc/messages.h"

namespace coedge::ipc::abi {

template <typename T>
constexpr bool kShareable = std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T>;
static_assert(kShareable<ChunkRef> && kShareable<JobRef> && kShareable<FrameHeader> && kShareable<FrameTicket> &&
              kShareable<Aux> && kShareable<TensorHeader> && kShareable<OutputHeader> &&
              kShareable<ResultHeader> && kShareable<JobEvent> && kShareable<ServerCommand>,
              "a shared message must be plain data");

static_assert(sizeof(ChunkRef) == 16);
static_assert(offsetof(ChunkRef, pool) == 0);
static_assert(offsetof(ChunkRef, index) == 4);
static_assert(offsetof(ChunkRef, generation) == 8);
static_assert(offsetof(ChunkRef, reserved) == 12);
static_assert(sizeof(JobRef) == 32);
static_assert(offsetof(JobRef, job) == 0);
static_assert(offsetof(JobRef, task) == 8);
static_assert(offsetof(JobRef, reserved) == 12);
static_assert(offsetof(JobRef, release_us) == 16);
static_assert(offsetof(JobRef, deadline_us) == 24);
static_assert(sizeof(FrameHeader) == 32);
static_assert(offsetof(FrameHeader, sequence) == 0);
static_assert(offsetof(FrameHeader, capture_us) == 8);
static_assert(offsetof(FrameHeader, width) == 16);
static_assert(offsetof(FrameHeader, height) == 20);
static_assert(offsetof(FrameHeader, channels) == 24);
static_assert(offsetof(FrameHeader, stride) == 28);
static_assert(sizeof(FrameTicket) == 56);
static_assert(offsetof(FrameTicket, frame) == 0);
static_assert(offsetof(FrameTicket, job) == 16);
static_assert(offsetof(FrameTicket, table_slot) == 48);
static_assert(offsetof(FrameTicket, reserved) == 52);
static_assert(sizeof(TensorHeader) == 88);
static_assert(offsetof(TensorHeader, job) == 0);
static_assert(offsetof(TensorHeader, table_slot) == 8);
static_assert(offsetof(TensorHeader, reserved) == 12);
static_assert(offsetof(TensorHeader, pre_start_us) == 16);
static_assert(offsetof(TensorHeader, pre_end_us) == 24);
static_assert(offsetof(TensorHeader, aux) == 32);
static_assert(offsetof(TensorHeader, elements) == 80);
static_assert(sizeof(OutputHeader) == 184);
static_assert(offsetof(OutputHeader, ref) == 0);
static_assert(offsetof(OutputHeader, pre_start_us) == 32);
static_assert(offsetof(OutputHeader, pre_end_us) == 40);
static_assert(offsetof(OutputHeader, infer_start_us) == 48);
static_assert(offsetof(OutputHeader, infer_end_us) == 56);
static_assert(offsetof(OutputHeader, batch) == 64);
static_assert(offsetof(OutputHeader, rank) == 68);
static_assert(offsetof(OutputHeader, shape) == 72);
static_assert(offsetof(OutputHeader, aux) == 120);
static_assert(offsetof(OutputHeader, elements) == 168);
static_assert(offsetof(OutputHeader, dtype) == 176);
static_assert(offsetof(OutputHeader, reserved_dtype) == 177);
static_assert(sizeof(ResultHeader) == 40);
static_assert(offsetof(ResultHeader, ref) == 0);
static_assert(offsetof(ResultHeader, bytes) == 32);
static_assert(offsetof(ResultHeader, reserved) == 36);
static_assert(sizeof(JobEvent) == 88);
static_assert(offsetof(JobEvent, ref) == 0);
static_assert(offsetof(JobEvent, kind) == 32);
static_assert(offsetof(JobEvent, reason) == 33);
static_assert(offsetof(JobEvent, batch) == 36);
static_assert(offsetof(JobEvent, pre_start_us) == 40);
static_assert(offsetof(JobEvent, pre_end_us) == 48);
static_assert(offsetof(JobEvent, infer_start_us) == 56);
static_assert(offsetof(JobEvent, infer_end_us) == 64);
static_assert(offsetof(JobEvent, post_start_us) == 72);
static_assert(offsetof(JobEvent, post_end_us) == 80);
static_assert(sizeof(ServerCommand) == 8);
static_assert(offsetof(ServerCommand, command) == 0);
static_assert(offsetof(ServerCommand, reserved) == 1);
static_assert(offsetof(ServerCommand, model) == 4);
static_assert(sizeof(Aux) == 48);
static_assert(sizeof(EventKind) == 1 && sizeof(Role) == 1 && sizeof(OutputDType) == 1 && sizeof(ModelCommand) == 1);
static_assert(payload_offset<FrameHeader>() == 64 && payload_offset<TensorHeader>() == 128 &&
              payload_offset<OutputHeader>() == 192 && payload_offset<ResultHeader>() == 64);
// The enum values a worker sends or reads.
static_assert(static_cast<int>(EventKind::kPreDone) == 1 && static_cast<int>(EventKind::kDone) == 3 &&
              static_cast<int>(EventKind::kDropped) == 4 && static_cast<int>(EventKind::kReady) == 5 &&
              static_cast<int>(EventKind::kViolation) == 7);

}  // namespace coedge::ipc::abi
