#include "testing/sim/sim_clients.h"

#include <capnp/message.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "net/bytes.h"

namespace raftkv::testing::sim {

using linearizability::Operation;
using linearizability::OpKind;

SimClients::SimClients(ClientOptions options, uint64_t seed,
                       std::function<SimNode&(NodeId)> node,
                       std::function<int()> slots,
                       std::function<void(const std::string&)> fail)
    : options_(options),
      rng_(seed),
      node_(std::move(node)),
      slots_(std::move(slots)),
      fail_(std::move(fail)),
      clients_(static_cast<size_t>(options.clients)) {
  for (Client& client : clients_) client.id = rng_() | 1;
}

bool SimClients::Chance(double p) {
  return static_cast<double>(rng_() % 1000000) < p * 1000000.0;
}

std::string SimClients::Key() {
  return absl::StrCat("k", rng_() % static_cast<uint64_t>(options_.keys));
}

void SimClients::Step(uint64_t now) {
  now_ = now;
  std::vector<Reply> replies;
  replies.swap(mailbox_);
  for (Reply& reply : replies) Handle(reply);
  for (size_t i = 0; i < clients_.size(); ++i) {
    Client& client = clients_[i];
    if (client.waiting) {
      const SimNode& node = node_(client.attempt_node);
      if (node.driver == nullptr ||
          node.incarnation != client.attempt_incarnation) {
        // The node crashed with the request: as a client's connection would
        // drop, the attempt is lost and the client tries again.
        client.waiting = false;
        Retry(client, 20 + rng_() % 40);
      } else if (now_ >= client.attempt_deadline) {
        // No answer in time (a paused node, a lost message): as the client
        // library does, give up on this node and try another; replies to
        // the abandoned attempt are ignored.
        client.waiting = false;
        client.believed_leader = 0;
        ++stats_.abandoned;
        Retry(client, 1 + rng_() % 10);
      }
      continue;
    }
    if (client.busy) {
      if (now_ >= client.retry_at) Attempt(client, i);
    } else if (Chance(options_.op_rate)) {
      Start(client, i);
    }
  }
}

void SimClients::Start(Client& client, size_t index) {
  Operation op;
  op.client = client.id;
  op.key = Key();
  op.invoke = now_;
  const uint64_t pick = rng_() % 100;
  if (pick < 5) {
    // A serializable read: one node's local state, no round trip.
    SimNode& node = node_(
        static_cast<NodeId>(1 + rng_() % static_cast<uint64_t>(slots_())));
    if (node.driver == nullptr) return;
    op.kind = OpKind::kGet;
    absl::StatusOr<std::optional<std::string>> value = node.kv.Get(op.key);
    if (!value.ok()) return;
    op.output = *value;
    op.ret = now_;
    serializable_.push_back(std::move(op));
    ++stats_.serializable_reads;
    return;
  }
  if (pick < 35) {
    client.kind = Kind::kPut;
    op.kind = OpKind::kPut;
  } else if (pick < 60) {
    client.kind = Kind::kGet;
    op.kind = OpKind::kGet;
  } else if (pick < 70) {
    client.kind = Kind::kDelete;
    op.kind = OpKind::kDelete;
  } else if (pick < 90) {
    client.kind = Kind::kCas;
    op.kind = OpKind::kCas;
    op.expected = client.last_seen[op.key];
  } else {
    client.kind = Kind::kList;
    op.kind = OpKind::kGet;
  }
  if (client.kind == Kind::kPut || client.kind == Kind::kDelete ||
      client.kind == Kind::kCas) {
    ++client.sequence;
    op.value = absl::StrCat(client.id, ".", client.sequence);
  }
  client.op = std::move(op);
  client.busy = true;
  Attempt(client, index);
}

void SimClients::Attempt(Client& client, size_t index) {
  NodeId target = client.believed_leader;
  // Reads go to any node half the time: a follower serves them through the
  // leader's read index (thesis §6.4), as production's clients spread them.
  const bool read = client.kind == Kind::kGet || client.kind == Kind::kList;
  if (target == 0 || rng_() % (read ? 2 : 4) == 0)
    target = static_cast<NodeId>(1 + rng_() % static_cast<uint64_t>(slots_()));
  SimNode& node = node_(target);
  if (node.driver == nullptr || node.storage_failed) {
    client.believed_leader = 0;
    return Retry(client, 5 + rng_() % 20);
  }
  client.waiting = true;
  client.attempt_node = target;
  client.attempt_incarnation = node.incarnation;
  client.attempt_deadline = now_ + 150 + rng_() % 150;
  const uint64_t attempt = ++client.attempt;
  const Kind kind = client.kind;
  const std::string key = client.op.key;
  // What production's RPC service would send back: the driver's outcome,
  // the leader hint in it, a get's value, a list's page.
  auto deliver = [this, index, attempt, kind, &node](
                     kv::Outcome result, const storage::ScanPage* page) {
    if (node.storage_failed &&
        (result.code == kv::Code::kOk || result.code == kv::Code::kNotFound)) {
      fail_(absl::StrCat("node ", node.id,
                         " acknowledged a request after its storage failed"));
    }
    Reply r{index, attempt, result, result.leader_id, {}, {}};
    if (kind == Kind::kGet && result.code == kv::Code::kNotFound) {
      r.result.code = kv::Code::kOk;  // a read of an absent key
    } else if (kind == Kind::kGet && result.ok()) {
      r.value = result.value;
    } else if (kind == Kind::kList && result.ok()) {
      for (const storage::KeyValue& item : page->items)
        r.listing[item.key] = item.value;
    }
    mailbox_.push_back(std::move(r));
  };
  // What the request does when it reaches the node: at once, or when a
  // paused node resumes.
  auto issue = [&node, deliver, kind, key, client_id = client.id,
                sequence = client.sequence, op = client.op]() {
    if (kind == Kind::kGet) {
      node.driver->Get(key, true, [deliver](kv::Outcome result) {
        deliver(std::move(result), nullptr);
      });
      return;
    }
    if (kind == Kind::kList) {
      storage::ScanOptions scan;
      scan.prefix = "k";
      scan.limit = 1000;
      node.driver->Scan(scan, true,
                        [deliver](kv::Outcome result, storage::ScanPage page) {
                          deliver(std::move(result), &page);
                        });
      return;
    }
    auto reply = [deliver](kv::Outcome result) {
      deliver(std::move(result), nullptr);
    };
    capnp::MallocMessageBuilder message;
    auto command = message.initRoot<net::wire::Command>();
    command.getSession().setClientId(client_id);
    command.getSession().setSequence(sequence);
    if (kind == Kind::kPut) {
      command.initPut().setKey(net::AsData(op.key));
      command.getPut().setValue(net::AsData(op.value));
    } else if (kind == Kind::kDelete) {
      command.initDelete().setKey(net::AsData(op.key));
    } else {
      auto cas = command.initCas();
      cas.setKey(net::AsData(op.key));
      cas.setExpectAbsent(!op.expected.has_value());
      if (op.expected.has_value()) cas.setExpected(net::AsData(*op.expected));
      cas.setValue(net::AsData(op.value));
    }
    node.driver->Write(command.asReader(), std::move(reply));
  };
  if (now_ < node.paused_until) {
    node.held.push_back(std::move(issue));  // waits in the node's socket
  } else {
    issue();
  }
}

void SimClients::Retry(Client& client, uint64_t delay) {
  ++stats_.retries;
  client.retry_at = now_ + delay;
}

void SimClients::Handle(Reply& reply) {
  Client& client = clients_[reply.client];
  if (!client.waiting || client.attempt != reply.attempt) return;
  client.waiting = false;
  Operation& op = client.op;
  switch (reply.result.code) {
    case kv::Code::kOk:
      if (client.kind == Kind::kGet) op.output = reply.value;
      if (client.kind == Kind::kList) {
        // One read of every key, all at the list's linearization point.
        for (int k = 0; k < options_.keys; ++k) {
          Operation read = op;
          read.key = absl::StrCat("k", k);
          auto it = reply.listing.find(read.key);
          read.output = it == reply.listing.end()
                            ? std::nullopt
                            : std::optional<std::string>(it->second);
          read.ret = now_;
          client.last_seen[read.key] = read.output;
          history_.push_back(std::move(read));
        }
        client.busy = false;
        return;
      }
      op.ok = true;
      return Complete(client, true);
    case kv::Code::kNotFound:
      op.ok = false;
      return Complete(client, true);
    case kv::Code::kCompareFailed:
      op.ok = false;
      op.output = reply.result.value;
      return Complete(client, true);
    case kv::Code::kNotLeader:
      client.believed_leader = reply.leader;
      return Retry(client, 1 + rng_() % 5);
    case kv::Code::kUnavailable:
      client.believed_leader = 0;
      return Retry(client, 10 + rng_() % 40);
    case kv::Code::kSessionExpired:
      ++stats_.sessions_expired;
      // An earlier attempt may have been applied before the session expired:
      // the outcome is unknown. The client starts a new session.
      Complete(client, false);
      client.id = rng_() | 1;
      client.sequence = 0;
      return;
    case kv::Code::kInvalidArgument:
    case kv::Code::kPermissionDenied:    // the simulator runs without TLS
    case kv::Code::kFailedPrecondition:  // only membership changes are refused
      return fail_(absl::StrCat("client ", client.id, " got invalid argument: ",
                                reply.result.message));
  }
}

void SimClients::Complete(Client& client, bool known) {
  Operation& op = client.op;
  op.known = known;
  op.ret = now_;
  if (known) {
    switch (op.kind) {
      case OpKind::kGet:
        client.last_seen[op.key] = op.output;
        break;
      case OpKind::kPut:
        client.last_seen[op.key] = op.value;
        break;
      case OpKind::kDelete:
        client.last_seen[op.key] = std::nullopt;
        break;
      case OpKind::kCas:
        client.last_seen[op.key] =
            op.ok ? std::optional<std::string>(op.value) : op.output;
        break;
    }
    if (op.kind != OpKind::kGet) {
      ++stats_.writes_acknowledged;
      last_write_acked_ = now_;
    }
  }
  history_.push_back(op);
  client.busy = false;
}

std::vector<Operation> SimClients::History() const {
  std::vector<Operation> history = history_;
  for (const Client& client : clients_) {
    if (!client.busy || client.kind == Kind::kList || client.kind == Kind::kGet)
      continue;
    Operation open = client.op;
    open.known = false;
    history.push_back(std::move(open));
  }
  return history;
}

}  // namespace raftkv::testing::sim
