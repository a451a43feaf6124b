#include "kv/command.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "net/bytes.h"

namespace raftkv::kv {

using net::AsData;
using net::ToString;
namespace {

std::string Flatten(capnp::MessageBuilder& builder) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  kj::ArrayPtr<const char> bytes = words.asChars();
  return std::string(bytes.begin(), bytes.size());
}

}  // namespace

std::string SerializeCommand(net::wire::Command::Reader command,
                             uint64_t timestamp_ms) {
  capnp::MallocMessageBuilder builder;
  builder.setRoot(command);
  builder.getRoot<net::wire::Command>().setTimestampMs(timestamp_ms);
  return Flatten(builder);
}

std::string PutCommand(uint64_t client_id, uint64_t sequence,
                       const std::string& key, const std::string& value,
                       uint64_t timestamp_ms) {
  capnp::MallocMessageBuilder builder;
  auto command = builder.initRoot<net::wire::Command>();
  command.getSession().setClientId(client_id);
  command.getSession().setSequence(sequence);
  command.setTimestampMs(timestamp_ms);
  command.initPut().setKey(AsData(key));
  command.getPut().setValue(AsData(value));
  return Flatten(builder);
}

std::string DeleteCommand(uint64_t client_id, uint64_t sequence,
                          const std::string& key, uint64_t timestamp_ms) {
  capnp::MallocMessageBuilder builder;
  auto command = builder.initRoot<net::wire::Command>();
  command.getSession().setClientId(client_id);
  command.getSession().setSequence(sequence);
  command.setTimestampMs(timestamp_ms);
  command.initDelete().setKey(AsData(key));
  return Flatten(builder);
}

}  // namespace raftkv::kv
