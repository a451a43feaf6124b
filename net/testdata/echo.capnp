# A test-only RPC interface over an imported struct: the wiring test's round trip.
@0x862803b9b75e4be3;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("raftkv::net::testdata");

using import "/net/testdata/payload.capnp".Payload;

interface Echo {
  # Returns the payload it was given, with index incremented by one.
  echo @0 (payload :Payload) -> (payload :Payload);
}
