// The wire form of an Outcome (kv/outcome.h): net/kv.capnp's Result. The one
// place that maps kv::Code to and from the wire's Code: by name, never by a
// cast, so the two enums may be renumbered apart without a silent mix-up; a
// code from a newer node that this build does not know reads as unavailable.
//
// Thread safety: pure functions.
#ifndef RAFTKV_KV_OUTCOME_WIRE_H_
#define RAFTKV_KV_OUTCOME_WIRE_H_

#include <capnp/common.h>

#include "kv/outcome.h"
#include "net/kv.capnp.h"

namespace raftkv::kv {

net::wire::Code ToWire(Code code);
Code FromWire(net::wire::Code code);

void Encode(const Outcome& outcome, net::wire::Result::Builder out);
// The words a message holding one Result with `outcome` needs (a size hint:
// without one, Cap'n Proto allocates and zeroes an 8 KiB first segment for
// every message).
capnp::MessageSize ResultSize(const Outcome& outcome);
// Answers a call whose results hold one `result` with `outcome`.
template <typename Context>
void Answer(Context& context, const Outcome& outcome) {
  Encode(outcome, context.initResults(ResultSize(outcome)).initResult());
}
Outcome Decode(net::wire::Result::Reader in);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_OUTCOME_WIRE_H_
