# A test-only schema that another schema imports: proves cc_capnp_library deps work.
@0xe912d43231150262;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("raftkv::net::testdata");

struct Payload {
  key @0 :Text;
  value @1 :Data;
  index @2 :UInt64;
}
