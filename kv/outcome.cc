#include "kv/outcome.h"

namespace raftkv::kv {

Outcome Invalid(std::string message) {
  Outcome outcome;
  outcome.code = Code::kInvalidArgument;
  outcome.message = std::move(message);
  return outcome;
}

Outcome Unavailable(std::string message) {
  Outcome outcome;
  outcome.code = Code::kUnavailable;
  outcome.message = std::move(message);
  return outcome;
}

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kNotFound:
      return "not_found";
    case Code::kNotLeader:
      return "not_leader";
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kCompareFailed:
      return "compare_failed";
    case Code::kSessionExpired:
      return "session_expired";
    case Code::kFailedPrecondition:
      return "failed_precondition";
    case Code::kPermissionDenied:
      return "permission_denied";
  }
  return "other";
}

}  // namespace raftkv::kv
