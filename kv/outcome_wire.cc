#include "kv/outcome_wire.h"

#include "net/bytes.h"

namespace raftkv::kv {

using W = net::wire::Code;

net::wire::Code ToWire(Code code) {
  switch (code) {
    case Code::kOk:
      return W::OK;
    case Code::kNotFound:
      return W::NOT_FOUND;
    case Code::kNotLeader:
      return W::NOT_LEADER;
    case Code::kInvalidArgument:
      return W::INVALID_ARGUMENT;
    case Code::kUnavailable:
      return W::UNAVAILABLE;
    case Code::kCompareFailed:
      return W::COMPARE_FAILED;
    case Code::kSessionExpired:
      return W::SESSION_EXPIRED;
    case Code::kFailedPrecondition:
      return W::FAILED_PRECONDITION;
    case Code::kPermissionDenied:
      return W::PERMISSION_DENIED;
  }
  return W::UNAVAILABLE;
}

Code FromWire(net::wire::Code code) {
  switch (code) {
    case W::OK:
      return Code::kOk;
    case W::NOT_FOUND:
      return Code::kNotFound;
    case W::NOT_LEADER:
      return Code::kNotLeader;
    case W::INVALID_ARGUMENT:
      return Code::kInvalidArgument;
    case W::UNAVAILABLE:
      return Code::kUnavailable;
    case W::COMPARE_FAILED:
      return Code::kCompareFailed;
    case W::SESSION_EXPIRED:
      return Code::kSessionExpired;
    case W::FAILED_PRECONDITION:
      return Code::kFailedPrecondition;
    case W::PERMISSION_DENIED:
      return Code::kPermissionDenied;
  }
  return Code::kUnavailable;
}

capnp::MessageSize ResultSize(const Outcome& outcome) {
  // The results struct and the Result itself (data and pointer sections,
  // rounded up), then each text or data field padded to a word.
  const size_t bytes = outcome.message.size() + 1 +
                       (outcome.value.has_value() ? outcome.value->size() : 0) +
                       outcome.leader_address.size() + 1;
  return capnp::MessageSize{16 + bytes / sizeof(capnp::word) + 3, 0};
}

void Encode(const Outcome& outcome, net::wire::Result::Builder out) {
  out.setCode(ToWire(outcome.code));
  out.setMessage(outcome.message);
  if (outcome.value.has_value()) {
    out.setHasValue(true);
    out.setValue(net::AsData(*outcome.value));
  }
  if (outcome.code == Code::kNotLeader) {
    out.setLeaderId(outcome.leader_id);
    out.setLeaderAddress(outcome.leader_address);
  }
}

Outcome Decode(net::wire::Result::Reader in) {
  Outcome outcome;
  outcome.code = FromWire(in.getCode());
  outcome.message = in.getMessage();
  if (in.getHasValue()) outcome.value = net::ToString(in.getValue());
  if (outcome.code == Code::kNotLeader) {
    outcome.leader_id = in.getLeaderId();
    outcome.leader_address = in.getLeaderAddress();
  }
  return outcome;
}

}  // namespace raftkv::kv
