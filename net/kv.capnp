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
  failedPrecondition @7;  # refused in the cluster's present state; message says when to retry
  permissionDenied @8;    # the client's certificate does not grant this request
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
  clusterId @8 :UInt64;
  # With `withDigest`: the FNV-1a 64 checksum of this node's state machine
  # (every key, value and client session, in key order) at appliedIndex,
  # the trailer checksum of a snapshot taken there. Nodes that applied the
  # same index hold the same digest. 0 when not asked.
  digest @9 :UInt64;
}

# One member as a node sees it. Progress (match, lag) is known by the leader only.
struct MemberInfo {
  id @0 :UInt64;
  address @1 :Text;
  suffrage @2 :Text;   # "voter", "learner", or "outgoing" (a voter of C_old only, while joint)
  match @3 :UInt64;    # the last index the leader knows the member holds
  lag @4 :UInt64;      # entries the member is behind the leader's last index
  hasProgress @5 :Bool;
}

struct Membership {
  clusterId @0 :UInt64;
  nodeId @1 :UInt64;       # the node that answered
  leaderId @2 :UInt64;
  joint @3 :Bool;          # a joint configuration is in force (thesis 4.3)
  lastIndex @4 :UInt64;
  members @5 :List(MemberInfo);
}

# One step of a membership change (raft::ConfChangeType: 0 add voter, 1 add learner,
# 2 promote learner, 3 remove).
struct MemberStep {
  type @0 :UInt8;
  nodeId @1 :UInt64;
  address @2 :Text;   # for the steps that add a node
}

# What `snapshot save` gets first: where the stream that follows stands.
struct BackupInfo {
  clusterId @0 :UInt64;
  index @1 :UInt64;   # the applied index the state is at
  term @2 :UInt64;    # its term (0 if the log no longer holds it)
  voters @3 :List(UInt64);
  members @4 :List(NodeStatus.Member);
}

# Hosted by the client of `snapshot save`: the node calls begin once (again if
# it starts over), then write with each chunk of the KV snapshot stream, one
# call at a time.
interface SnapshotSink {
  begin @0 (info :BackupInfo) -> ();
  write @1 (chunk :Data) -> ();
}

interface KvService {
  get @0 (key :Data, consistency :Consistency) -> (result :Result);
  write @1 (command :Command) -> (result :Result);
  list @2 (prefix :Data, start :Data, end :Data, limit :UInt32, keysOnly :Bool,
           consistency :Consistency)
       -> (result :Result, items :List(KeyValue), more :Bool, nextStart :Data);
  status @3 (withDigest :Bool) -> (status :NodeStatus);
  # The configuration in force: the leader's (redirecting like a write), or with
  # anyNode the answering node's own view (a joining node asks this).
  members @4 (anyNode :Bool) -> (result :Result, membership :Membership);
  # Leader only: a membership change; answered once it is committed and applied.
  changeMembership @5 (steps :List(MemberStep)) -> (result :Result);
  # Leader only: hands leadership to nodeId; answered once it has moved.
  moveLeader @6 (nodeId :UInt64) -> (result :Result);
  # Leader only: streams a consistent snapshot of the state machine into
  # `sink` (after a ReadIndex round: every write acknowledged before the call
  # is in it); answered once the last chunk was taken.
  saveSnapshot @7 (sink :SnapshotSink) -> (result :Result);
}
