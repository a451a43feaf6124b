// Admission: the one place where a client request is held against the node's
// limits, before it reaches the runtime (and so before it costs a proposal,
// a log entry or a read): key and value sizes, the whole request's size, and
// a list page's length. A refusal is an Outcome (kInvalidArgument) whose
// message names the limit and the flag that sets it.
//
// Thread safety: immutable after construction; pure checks.
#ifndef RAFTKV_KV_ADMISSION_H_
#define RAFTKV_KV_ADMISSION_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "kv/outcome.h"
#include "net/kv.capnp.h"

namespace raftkv::kv {

struct Limits {
  uint64_t max_key_bytes = 4 << 10;
  uint64_t max_value_bytes = 1 << 20;
  uint64_t max_request_bytes = 3 << 19;  // 1.5 MiB
  uint64_t max_list_page = 10000;
};

class Admission {
 public:
  explicit Admission(const Limits& limits) : limits_(limits) {}

  std::optional<Outcome> Key(absl::string_view key) const;
  std::optional<Outcome> Command(net::wire::Command::Reader command) const;
  // `limit` as the client sent it (0: the default page of 100).
  std::optional<Outcome> ListPage(uint64_t limit) const;

  const Limits& limits() const { return limits_; }

 private:
  std::optional<Outcome> Value(const char* what, size_t size) const;

  const Limits limits_;
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_ADMISSION_H_
