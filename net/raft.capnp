# Peer-to-peer Raft messages: what raft::Message looks like on the wire.
@0xd8c89bb34675b8cf;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("raftkv::net::wire");

struct Entry {
  term @0 :UInt64;
  index @1 :UInt64;
  type @2 :UInt8;    # raft::EntryType
  data @3 :Data;
}

struct SnapshotMetadata {
  index @0 :UInt64;
  term @1 :UInt64;
  voters @2 :List(UInt64);
  learners @3 :List(UInt64);
  votersOutgoing @4 :List(UInt64);  # the old voters of a joint configuration
}

struct RaftMessage {
  type @0 :UInt8;    # raft::MessageType
  from @1 :UInt64;
  to @2 :UInt64;
  term @3 :UInt64;
  logTerm @4 :UInt64;
  index @5 :UInt64;
  entries @6 :List(Entry);
  commit @7 :UInt64;
  reject @8 :Bool;
  rejectHint @9 :UInt64;
  hintTerm @10 :UInt64;
  transfer @11 :Bool;
  context @12 :Data;
  snapshot @13 :SnapshotMetadata;
  snapshotData @14 :Data;
}

# One piece of a streamed snapshot (raft::SnapshotChunk, Raft paper §7).
struct SnapshotChunk {
  from @0 :UInt64;
  to @1 :UInt64;
  transfer @2 :UInt64;
  offset @3 :UInt64;
  data @4 :Data;
  last @5 :Bool;
  message @6 :RaftMessage;   # with last: the kSnapshot message
  gzip @7 :Bool;             # data is a gzip stream; offset counts uncompressed bytes
}

struct SnapshotAck {
  from @0 :UInt64;
  to @1 :UInt64;
  transfer @2 :UInt64;
  nextOffset @3 :UInt64;
  ok @4 :Bool;
}

# A batch of messages as one Cap'n Proto message, sent in the packed encoding
# (--peer-encoding=packed) as deliver's `packed`.
struct RaftBatch {
  messages @0 :List(RaftMessage);
}

# The peer stream (net/peer_stream.h): one TCP (or TLS) connection per pair of
# nodes and direction, opened with an 8-byte preamble, then a sequence of
# PeerFrames in Cap'n Proto's stream framing. The dialler sends hello first,
# then messages, snapshot chunks and acks, one way; the receiver sends back only
# `received` (how many frames it has taken, once per event-loop turn), or
# `refused` before it closes.
struct PeerHello {
  clusterId @0 :UInt64;
  from @1 :UInt64;            # the sender's node id
  peerAddress @2 :Text;       # where the sender listens for peers (its member
                              # address), so that a node whose log does not
                              # list it yet can answer
  clientAddress @3 :Text;     # where it serves clients, when not on this port
                              # (--client-bind); "not the leader" answers name it
}

struct PeerFrame {
  union {
    hello @0 :PeerHello;
    messages @1 :List(RaftMessage);   # a batch from one peer, in order
    packed @2 :Data;                  # instead: a RaftBatch, packed encoding
    snapshotChunk @3 :SnapshotChunk;  # one piece; the next after its ack
    snapshotAck @4 :SnapshotAck;
    received @5 :UInt64;              # receiver to sender: frames taken so far
    refused @6 :Text;                 # receiver to sender, then it closes
  }
}
