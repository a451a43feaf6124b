# The client API of a kvnode, and the commands the replicated state machine applies.
@0xf45c04fc7ad85cab;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("raftkv::net::wire");

enum Code {
  ok @0;
  notFound @1;         # get/delete of a missing key
  notLeader @2;        # retry at leaderAddress (empty if no leader is known)
  invalidArgument @3;  # message names the limit or the problem
  unavailable @4;      # no quorum, shutting down, or timed out: retry later
  compareFailed @5;    # cas: the current value differs (current value returned)
  sessionExpired @6;   # the session is gone: open a new one
}

struct Session {
  clientId @0 :UInt64;  # random, chosen by the client library
  sequence @1 :UInt64;  # 1, 2, 3, ... one request at a time per session
}

# A command in the Raft log.
struct Command {
  session @0 :Session;
  timestampMs @1 :UInt64;  # leader's clock when proposed; drives session expiry
  union {
    put :group {
      key @2 :Data;
      value @3 :Data;
    }
    delete :group {
      key @4 :Data;
    }
    cas :group {
      key @5 :Data;
      expectAbsent @6 :Bool;
      expected @7 :Data;
      value @8 :Data;
    }
    noop @9 :Void;
  }
}

struct Result {
  code @0 :Code;
  message @1 :Text;
  value @2 :Data;          # cas: the current value when compareFailed
  hasValue @3 :Bool;
  leaderAddress @4 :Text;
  leaderId @5 :UInt64;     # with notLeader: the leader's node id, 0 if unknown
}

enum Consistency {
  linearizable @0;
  serializable @1;
}

struct KeyValue {
  key @0 :Data;
  value @1 :Data;
}

struct NodeStatus {
  nodeId @0 :UInt64;
  role @1 :Text;
  term @2 :UInt64;
  leaderId @3 :UInt64;
  leaderAddress @4 :Text;
  commitIndex @5 :UInt64;
  appliedIndex @6 :UInt64;
  members @7 :List(Member);
  struct Member {
    id @0 :UInt64;
    address @1 :Text;
  }
}

interface KvService {
  get @0 (key :Data, consistency :Consistency) -> (result :Result);
  write @1 (command :Command) -> (result :Result);
  list @2 (prefix :Data, start :Data, end :Data, limit :UInt32, keysOnly :Bool,
           consistency :Consistency)
       -> (result :Result, items :List(KeyValue), more :Bool, nextStart :Data);
  status @3 () -> (status :NodeStatus);
}

using Raft = import "/net/raft.capnp";

# What every kvnode serves on its one port: Raft peers and clients alike.
interface Node extends(Raft.RaftPeer, KvService) {}
