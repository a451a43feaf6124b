// The node's own parsers of text and records: --cluster (ParseCluster),
// --log-level (ParseLogLevel), and the member address record in the log
// (DecodeMembers). Each refuses bad input with an error, never a crash; what
// DecodeMembers accepts re-encodes to the same bytes.
#include <cstdlib>
#include <string>

#include "kv/log.h"
#include "kv/members.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto cluster = raftkv::kv::ParseCluster(text);
      if (cluster.ok()) {
        for (const auto& [id, address] : *cluster) {
          if (id == 0 || address.find(':') == std::string::npos) abort();
        }
      }
      break;
    }
    case 1:
      (void)raftkv::kv::ParseLogLevel(text);
      break;
    default: {
      auto members = raftkv::kv::DecodeMembers(text);
      if (members.ok() && !members->empty() &&
          raftkv::kv::EncodeMembers(*members) != text)
        abort();
    }
  }
  return 0;
}
