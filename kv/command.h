// Commands as they travel through the Raft log: a client's Command
// (net/kv.capnp) stamped with the leader's clock and flattened into bytes for
// raft::Core::Propose. Thread safety: pure functions.
#ifndef RAFTKV_KV_COMMAND_H_
#define RAFTKV_KV_COMMAND_H_

#include <cstdint>
#include <string>

#include "net/kv.capnp.h"

namespace raftkv::kv {

// Copies `command`, sets its timestamp, and returns the flat Cap'n Proto
// encoding.
std::string SerializeCommand(net::wire::Command::Reader command,
                             uint64_t timestamp_ms);

// Convenience builders for tests and the client library.
std::string PutCommand(uint64_t client_id, uint64_t sequence,
                       const std::string& key, const std::string& value,
                       uint64_t timestamp_ms);
std::string DeleteCommand(uint64_t client_id, uint64_t sequence,
                          const std::string& key, uint64_t timestamp_ms);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_COMMAND_H_
