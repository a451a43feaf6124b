// NodeDriver, reads: a key or a page of keys from the state machine, after
// the ReadIndex barrier when linearizable. The RPC service and the simulator
// both read through here.
#include "kv/driver.h"

namespace raftkv::kv {

void NodeDriver::Get(std::string key, bool linearizable, Reply reply) {
  auto read = [this, key = std::move(key),
               reply = std::move(reply)](Outcome barrier) {
    if (!barrier.ok()) return reply(std::move(barrier));
    absl::StatusOr<std::optional<std::string>> value =
        machine_->store().Get(key);
    if (!value.ok())
      return reply(Unavailable(std::string(value.status().message())));
    Outcome outcome;
    if (value->has_value()) {
      outcome.value = std::move(*value);
    } else {
      outcome.code = Code::kNotFound;
    }
    reply(std::move(outcome));
  };
  if (linearizable) return ReadBarrier(std::move(read));
  if (stopped_ || !failure_.ok())
    return read(Unavailable("node is shutting down"));
  read(Outcome{});
}

void NodeDriver::Scan(storage::ScanOptions options, bool linearizable,
                      ScanReply reply) {
  auto scan = [this, options = std::move(options),
               reply = std::move(reply)](Outcome barrier) {
    if (!barrier.ok()) return reply(std::move(barrier), {});
    absl::StatusOr<storage::ScanPage> page = machine_->store().Scan(options);
    if (!page.ok()) {
      Outcome refused = absl::IsInvalidArgument(page.status())
                            ? Invalid(std::string(page.status().message()))
                            : Unavailable(std::string(page.status().message()));
      return reply(std::move(refused), {});
    }
    reply(Outcome{}, std::move(*page));
  };
  if (linearizable) return ReadBarrier(std::move(scan));
  if (stopped_ || !failure_.ok())
    return scan(Unavailable("node is shutting down"));
  scan(Outcome{});
}

}  // namespace raftkv::kv
