// Outcome: the one result type of a client request, from the state machine
// and the driver through the RPC service and the wire (kv/outcome_wire.h) to
// the client library and the CLI's exit code. A refusal carries what the
// client needs to act on it as data: "not the leader" names the leader it
// knows (id and address), and only NodeDriver::NotLeader builds one.
//
// Thread safety: a value type. Invariant: leader_id and leader_address are
// set only with kNotLeader.
#ifndef RAFTKV_KV_OUTCOME_H_
#define RAFTKV_KV_OUTCOME_H_

#include <cstdint>
#include <optional>
#include <string>

#include "raft/types.h"

namespace raftkv::kv {

enum class Code : uint8_t {
  kOk = 0,
  kNotFound = 1,
  kNotLeader = 2,  // retry at the leader named in the outcome, if any
  kInvalidArgument = 3,
  kUnavailable = 4,  // no quorum, shutting down, timed out: retry later
  kCompareFailed = 5,
  kSessionExpired = 6,
  // Refused in the cluster's present state (a membership change in flight, a
  // learner too far behind); the message says when to retry.
  kFailedPrecondition = 7,
  // The client's certificate does not grant this (kv/permissions.h).
  kPermissionDenied = 8,
};
inline constexpr int kCodeCount = 9;

struct Outcome {
  Code code = Code::kOk;
  std::string message;
  // get: the value read; cas: the current value when the compare failed.
  std::optional<std::string> value;
  raft::NodeId leader_id = raft::kNoNode;  // kNotLeader: 0 if none is known
  std::string leader_address;              // kNotLeader: "" if unknown

  bool ok() const { return code == Code::kOk; }
};

Outcome Invalid(std::string message);
// kUnavailable with `message`: the client should retry.
Outcome Unavailable(std::string message);

// "ok", "not_found", ... as metrics label them.
const char* CodeName(Code code);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_OUTCOME_H_
