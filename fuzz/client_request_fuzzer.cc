// Client request decode and validation: any bytes a client sends as the
// parameters of write, get or list pass the admission layer
// (kv/admission.h); an admitted write is serialized as the leader would and
// applied by a state machine, which must answer with a known outcome.
#include <capnp/message.h>

#include <cstdlib>

#include "fuzz/capnp_input.h"
#include "kv/admission.h"
#include "kv/command.h"
#include "kv/state_machine.h"
#include "net/kv.capnp.h"
#include "storage/memory_kv_store.h"

namespace {

namespace wire = raftkv::net::wire;
using raftkv::kv::Admission;
using raftkv::kv::Code;

Admission& Limits() {
  static Admission admission{raftkv::kv::Limits{}};
  return admission;
}

void ApplyAdmitted(wire::Command::Reader command) {
  if (Limits().Command(command).has_value()) return;
  raftkv::storage::MemoryKvStore store;
  raftkv::kv::StateMachine machine(&store, {});
  raftkv::raft::Entry entry;
  entry.term = 1;
  entry.index = 1;
  entry.data = raftkv::kv::SerializeCommand(command, 1000);
  auto outcome = machine.Apply(entry);
  if (!outcome.ok()) abort();  // a memory store does not fail
  if (static_cast<int>(outcome->code) >= raftkv::kv::kCodeCount) abort();
  // What was applied is the state machine's applied index.
  if (store.AppliedIndex() != 1) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t which = data[0] % 3;
  ++data;
  --size;
  switch (which) {
    case 0:
      raftkv::fuzz::WithRoot<wire::KvService::WriteParams>(
          data, size, [](wire::KvService::WriteParams::Reader params) {
            ApplyAdmitted(params.getCommand());
          });
      break;
    case 1:
      raftkv::fuzz::WithRoot<wire::KvService::GetParams>(
          data, size, [](wire::KvService::GetParams::Reader params) {
            auto key = params.getKey();
            (void)Limits().Key(absl::string_view(
                reinterpret_cast<const char*>(key.begin()), key.size()));
          });
      break;
    default:
      raftkv::fuzz::WithRoot<wire::KvService::ListParams>(
          data, size, [](wire::KvService::ListParams::Reader params) {
            (void)Limits().ListPage(params.getLimit());
            (void)params.getPrefix();
            (void)params.getStart();
          });
  }
  return 0;
}
