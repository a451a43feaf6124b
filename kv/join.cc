// ResolveIdentity: bootstrap, restart or join (kv/node.h).
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kv/client.h"
#include "kv/node.h"
#include "raft/status_macros.h"
#include "storage/file_util.h"

namespace raftkv::kv {
namespace {

absl::Status Mismatch(const std::string& what) {
  return absl::InvalidArgumentError(what);
}

// Asks the --join addresses for their view of the members (each node's own
// view, which includes a change the moment it is appended: the join must not
// wait for a quorum that may need this very node). An answer that lists
// this node wins; otherwise the first answer.
absl::StatusOr<Membership> AskCluster(const NodeOptions& options) {
  ClientOptions client_options;
  client_options.cluster = absl::StrJoin(options.join, ",");
  client_options.timeout_ms = 1000;
  // With TLS, the node asks as a client with its client-port certificate,
  // signed by the client CA, which also signed the members' (--auth-file must
  // give its name at least read-only).
  client_options.tls = options.client_tls;
  ASSIGN_OR_RETURN(std::unique_ptr<Client> client,
                   Client::Create(client_options));
  std::optional<absl::StatusOr<Membership>> first;
  for (const std::string& address : options.join) {
    absl::StatusOr<Membership> membership = client->MembersAt(address);
    if (membership.ok()) {
      for (const MemberInfo& m : membership->members) {
        if (m.id == options.id) return membership;
      }
    }
    if (!first.has_value() || (!first->ok() && membership.ok()))
      first = std::move(membership);
  }
  if (!first.has_value()) return absl::UnavailableError("no --join address");
  return *first;
}

void Say(const NodeOptions& options, const std::string& line) {
  if (options.log) options.log({LogLevel::kInfo, 0, line});
}

// Waits until the cluster lists this node, then returns its identity.
absl::StatusOr<NodeIdentity> Join(const NodeOptions& options) {
  bool said_unreachable = false, said_waiting = false;
  while (true) {
    absl::StatusOr<Membership> membership = AskCluster(options);
    if (!membership.ok()) {
      if (!said_unreachable) {
        Say(options,
            absl::StrCat("node ", options.id, ": cannot reach --join ",
                         absl::StrJoin(options.join, ","), " (",
                         membership.status().message(), "); retrying"));
        said_unreachable = true;
      }
    } else {
      NodeIdentity identity;
      identity.cluster_id = membership->cluster_id;
      identity.node_id = options.id;
      bool member = false;
      for (const MemberInfo& m : membership->members) {
        identity.initial_members[m.id] = m.address;
        member |= m.id == options.id;
      }
      if (member) {
        Say(options, absl::StrCat("node ", options.id, ": joining cluster ",
                                  ClusterIdText(identity.cluster_id), " with ",
                                  membership->members.size(), " members"));
        return identity;
      }
      if (!said_waiting) {
        Say(options,
            absl::StrCat("node ", options.id, " is not a member of cluster ",
                         ClusterIdText(identity.cluster_id),
                         " yet; waiting until an operator adds it: kvnode "
                         "--cluster=",
                         absl::StrJoin(options.join, ","),
                         " member add-learner ", options.id, " ",
                         options.bind));
        said_waiting = true;
      }
    }
    usleep(500 * 1000);
  }
}

}  // namespace

absl::StatusOr<NodeIdentity> ResolveIdentity(const NodeOptions& options) {
  RETURN_IF_ERROR(storage::MakeDirectories(options.data_dir));
  ASSIGN_OR_RETURN(std::optional<NodeIdentity> existing,
                   ReadIdentity(options.data_dir));
  if (existing.has_value()) {
    if (existing->node_id != options.id) {
      return Mismatch(
          absl::StrCat("--data-dir=", options.data_dir, " belongs to node ",
                       existing->node_id, ", not --node-id=", options.id,
                       "; start it with --node-id=", existing->node_id,
                       " or give this node an empty --data-dir"));
    }
    if (!options.cluster.empty()) {
      const uint64_t given =
          ClusterIdOf(options.cluster, options.cluster_token);
      if (given != existing->cluster_id) {
        return Mismatch(absl::StrCat(
            "--cluster describes cluster ", ClusterIdText(given),
            " but --data-dir=", options.data_dir, " belongs to cluster ",
            ClusterIdText(existing->cluster_id),
            "; restart without --cluster (members come from the data "
            "directory), or give an empty --data-dir to start a new cluster"));
      }
    }
    if (!options.join.empty()) {
      absl::StatusOr<Membership> membership = AskCluster(options);
      if (membership.ok() && membership->cluster_id != existing->cluster_id) {
        return Mismatch(absl::StrCat(
            "the cluster at --join=", absl::StrJoin(options.join, ","),
            " is cluster ", ClusterIdText(membership->cluster_id),
            " but --data-dir=", options.data_dir, " belongs to cluster ",
            ClusterIdText(existing->cluster_id),
            "; give an empty --data-dir to join it"));
      }
    }
    return *existing;
  }
  if (!options.cluster.empty() && !options.join.empty()) {
    return Mismatch(
        "give --cluster to bootstrap a new cluster or --join to join a running "
        "one, not both");
  }
  NodeIdentity identity;
  identity.node_id = options.id;
  if (!options.cluster.empty()) {
    if (options.cluster.count(options.id) == 0) {
      return Mismatch(absl::StrCat("--node-id=", options.id,
                                   " is not in --cluster; add it as ",
                                   options.id, "=HOST:PORT"));
    }
    identity.cluster_id = ClusterIdOf(options.cluster, options.cluster_token);
    identity.founder = true;
    identity.initial_members = options.cluster;
  } else if (!options.join.empty()) {
    ASSIGN_OR_RETURN(identity, Join(options));
  } else {
    return Mismatch(absl::StrCat(
        "--data-dir=", options.data_dir,
        " is new: give --cluster=ID=HOST:PORT,... to bootstrap a cluster, or "
        "--join=HOST:PORT,... to join a running one"));
  }
  RETURN_IF_ERROR(WriteIdentity(options.data_dir, identity));
  return identity;
}

}  // namespace raftkv::kv
