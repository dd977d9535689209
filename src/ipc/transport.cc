#include "ipc/transport.h"

#include <chrono>
#include <vector>

#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/user_trigger.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"

namespace coedge::ipc {
namespace {

iox::capro::ServiceDescription describe(const std::string& kind, const std::string& name) {
  using iox::cxx::TruncateToCapacity;
  return {iox::capro::IdString_t(TruncateToCapacity, "coedge"),
          iox::capro::IdString_t(TruncateToCapacity, kind.c_str()),
          iox::capro::IdString_t(TruncateToCapacity, name.c_str())};
}

}  // namespace

void init_runtime(const std::string& name) {
  // iceoryx logs its own debug chatter to stderr by default; keep warnings and errors.
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn);
  iox::runtime::PoshRuntime::initRuntime(
      iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
}


// ---------------------------------------------------------------------------------------
struct Publisher::Impl {
  explicit Impl(iox::capro::ServiceDescription service) : publisher(service, options()) {}
  static iox::popo::PublisherOptions options() {
    iox::popo::PublisherOptions o;
    o.historyCapacity = 0;
    return o;
  }
  iox::popo::UntypedPublisher publisher;
};

Publisher::Publisher(const std::string& kind, const std::string& name)
    : impl_(std::make_unique<Impl>(describe(kind, name))) {}
Publisher::~Publisher() = default;

Result<void*> Publisher::loan(uint64_t bytes) {
  auto chunk = impl_->publisher.loan(static_cast<uint32_t>(bytes), 64);
  if (chunk.has_error()) {
    const auto error = chunk.get_error();
    const char* why = error == iox::popo::AllocationError::RUNNING_OUT_OF_CHUNKS
                          ? "every shared-memory chunk of that size is in use"
                      : error == iox::popo::AllocationError::NO_MEMPOOLS_AVAILABLE ||
                              error == iox::popo::AllocationError::TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL
                          ? "too many chunks held at once"
                          : "no shared-memory pool has chunks that large";
    return Error{ErrorCode::kUnsupported, "cannot loan " + std::to_string(bytes) + " bytes: " + why};
  }
  return chunk.value();
}

void Publisher::publish(void* chunk) { impl_->publisher.publish(chunk); }
void Publisher::discard(void* chunk) { impl_->publisher.release(chunk); }
bool Publisher::has_subscribers() const { return impl_->publisher.hasSubscribers(); }

// ---------------------------------------------------------------------------------------
struct Subscriber::Impl {
  Impl(iox::capro::ServiceDescription service, uint64_t capacity)
      : subscriber(service, options(capacity)) {}
  static iox::popo::SubscriberOptions options(uint64_t capacity) {
    iox::popo::SubscriberOptions o;
    o.queueCapacity = std::min<uint64_t>(capacity, iox::MAX_SUBSCRIBER_QUEUE_CAPACITY);
    o.historyRequest = 0;
    return o;
  }
  iox::popo::UntypedSubscriber subscriber;
};

Subscriber::Subscriber(const std::string& kind, const std::string& name, uint64_t queue_capacity)
    : impl_(std::make_unique<Impl>(describe(kind, name), queue_capacity)) {}
Subscriber::~Subscriber() = default;

const void* Subscriber::take() {
  auto chunk = impl_->subscriber.take();
  return chunk.has_error() ? nullptr : chunk.value();
}

void Subscriber::release(const void* chunk) { impl_->subscriber.release(chunk); }

bool Subscriber::connected() const {
  return impl_->subscriber.getSubscriptionState() == iox::SubscribeState::SUBSCRIBED;
}

// ---------------------------------------------------------------------------------------
struct Waiter::Impl {
  iox::popo::WaitSet<> waitset;
  iox::popo::UserTrigger trigger;
};

Waiter::Waiter() : impl_(std::make_unique<Impl>()) {
  impl_->waitset.attachEvent(impl_->trigger).or_else([](auto) {
    std::abort();  // a fresh WaitSet always has room for one trigger
  });
}

Waiter::~Waiter() {
  impl_->waitset.detachEvent(impl_->trigger);
}

Status Waiter::attach(Subscriber& subscriber) {
  auto attached = impl_->waitset.attachState(subscriber.impl_->subscriber,
                                             iox::popo::SubscriberState::HAS_DATA);
  if (attached.has_error()) return Error{ErrorCode::kUnsupported, "cannot wait on more subscribers in one waiter"};
  return Ok{};
}

void Waiter::detach(Subscriber& subscriber) {
  impl_->waitset.detachState(subscriber.impl_->subscriber, iox::popo::SubscriberState::HAS_DATA);
}

void Waiter::wait(Duration timeout) {
  const auto us = std::max<int64_t>(0, timeout.count());
  impl_->waitset.timedWait(iox::units::Duration::fromMicroseconds(static_cast<uint64_t>(us)));
}

void Waiter::wake() { impl_->trigger.trigger(); }

}  // namespace coedge::ipc
