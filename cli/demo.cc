#include "cli/demo.h"

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/local_cluster.h"
#include "kv/client.h"

namespace raftkv::cli {
namespace {

using Clock = std::chrono::steady_clock;

// The certificates of `kvnode demo --tls` (the README shows the same steps).
constexpr char kCertificateScript[] = R"(set -euo pipefail
cd "$1"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
ca() { key "$1"; openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$1" 2>/dev/null; }
cert() {
  key "$1"; openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  printf 'subjectAltName=%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
    -out "$1.pem" -days 2 -extfile "$1.ext" 2>/dev/null
}
ca client-ca; ca peer-ca
cert server client-ca raftkv DNS:127.0.0.1,DNS:localhost
for n in 1 2 3 4 5 6; do cert "peer-$n" peer-ca "node-$n" "DNS:node-$n"; done
cert admin client-ca admin DNS:admin
)";

void Step(const std::string& text) {
  printf("\n== %s\n", text.c_str());
  fflush(stdout);
}
void Say(const std::string& text) {
  printf("   %s\n", text.c_str());
  fflush(stdout);
}

long long MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                               start)
      .count();
}

// Polls the nodes (except `skip`) until one of them is leader; returns its id
// or 0.
raft::NodeId WaitForLeader(kv::Client& client, LocalCluster& cluster,
                           raft::NodeId skip, int timeout_ms,
                           raft::Term* term) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    for (raft::NodeId id : cluster.ids()) {
      if (id == skip || !cluster.running(id)) continue;
      auto info = client.Status(cluster.client_address(id));
      if (info.ok() && info->role == "leader") {
        if (term != nullptr) *term = info->term;
        return id;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return raft::kNoNode;
}

class Demo {
 public:
  Demo(std::string self, bool tls) : self_(std::move(self)), tls_(tls) {}

  int Run() {
    const char* tmp = getenv("TMPDIR");
    std::string pattern =
        absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/raftkv-demo.XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr)
      return Fail("cannot create a temporary directory");
    dir_ = pattern;
    const int code = Tour();
    cluster_.reset();  // kills anything still running, by PID
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    Step(code == 0 ? "Done: every node stopped, temporary directory removed."
                   : "The demo failed; every node stopped, temporary directory "
                     "removed.");
    return code;
  }

 private:
  int Fail(const std::string& why) {
    fprintf(stderr, "kvnode demo: %s\n", why.c_str());
    return 6;
  }

  std::string CertFile(const std::string& name) const {
    return absl::StrCat(dir_, "/certs/", name);
  }
  std::vector<std::string> PeerFlags(raft::NodeId id) const {
    const std::string peer = absl::StrCat("peer-", id);
    return {"--peer-cert-file=" + CertFile(peer + ".pem"),
            "--peer-key-file=" + CertFile(peer + ".key")};
  }

  // --tls: a client CA and a peer CA, certificates for the nodes, their peer
  // links and one client, made with the openssl command line.
  int MakeCertificates(LocalClusterOptions* options) {
    Step("Making TLS certificates with the openssl command line");
    std::filesystem::create_directories(dir_ + "/certs");
    const std::string script = dir_ + "/certs/make.sh";
    FILE* out = fopen(script.c_str(), "w");
    if (out == nullptr) return Fail("cannot write " + script);
    fputs(kCertificateScript, out);
    fclose(out);
    if (std::system(
            absl::StrCat("bash ", script, " ", dir_, "/certs").c_str()) != 0)
      return Fail("--tls needs the openssl command line (apt install openssl)");
    Say("client-ca, peer-ca; server (DNS:127.0.0.1), peer-1..6 (node-N), "
        "client admin");
    options->client_ports = true;
    for (const std::string& flag :
         {"--cert-file=" + CertFile("server.pem"),
          "--key-file=" + CertFile("server.key"),
          "--trusted-ca-file=" + CertFile("client-ca.pem"),
          "--peer-trusted-ca-file=" + CertFile("peer-ca.pem")})
      options->extra_flags.push_back(flag);
    for (raft::NodeId id = 1; id <= 3; ++id)
      options->node_flags[id] = PeerFlags(id);
    client_tls_ = {CertFile("admin.pem"), CertFile("admin.key"),
                   CertFile("client-ca.pem")};
    return 0;
  }

  int Tour() {
    LocalClusterOptions options{
        .binary = self_, .dir = dir_, .nodes = 3, .extra_flags = {"--quiet"}};
    if (tls_) {
      if (int failed = MakeCertificates(&options); failed != 0) return failed;
    }
    auto cluster = LocalCluster::Create(std::move(options));
    if (!cluster.ok()) return Fail(std::string(cluster.status().message()));
    cluster_ = std::move(*cluster);

    Step("Starting a 3-node raftkv cluster on this machine");
    Say(absl::StrCat("data and logs in ", dir_));
    for (raft::NodeId id : cluster_->ids()) {
      Say(absl::StrCat("node ", id, ": kvnode serve --node-id=", id,
                       " --bind=", cluster_->address(id),
                       " --data-dir=", cluster_->data_dir(id)));
    }
    const auto started = Clock::now();
    if (absl::Status s = cluster_->StartAll(); !s.ok())
      return Fail(std::string(s.message()));
    kv::ClientOptions client_options;
    client_options.cluster = cluster_->client_cluster();
    client_options.tls = client_tls_;
    auto client = kv::Client::Create(client_options);
    if (!client.ok()) return Fail(std::string(client.status().message()));
    kv::Client& kv = **client;
    if (tls_) {
      Say(absl::StrCat("clients on ", cluster_->client_cluster(),
                       " with mutual TLS; peers with certificates node-N"));
    }

    raft::Term term = 0;
    const raft::NodeId leader =
        WaitForLeader(kv, *cluster_, raft::kNoNode, 15000, &term);
    if (leader == raft::kNoNode)
      return Fail("no leader was elected within 15 s; see the node logs");
    Say(absl::StrCat("node ", leader, " was elected leader for term ", term,
                     " after ", MillisSince(started), " ms"));

    Step(
        "Writing through the cluster (each write is acknowledged once a "
        "majority has it on disk)");
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, std::string>>{
             {"demo/greeting", "hello"},
             {"demo/planet", "earth"},
             {"demo/answer", "42"}}) {
      const auto t = Clock::now();
      if (absl::Status s = kv.Put(key, value); !s.ok())
        return Fail(std::string(s.message()));
      Say(absl::StrCat("put ", key, " = ", value, "   (", MillisSince(t),
                       " ms)"));
    }

    Step(
        "Linearizable reads (the leader confirms it still leads before "
        "answering)");
    for (const std::string key : {"demo/greeting", "demo/answer"}) {
      auto value = kv.Get(key);
      if (!value.ok() || !value->has_value())
        return Fail(absl::StrCat("could not read ", key));
      Say(absl::StrCat("get ", key, " -> ", **value));
    }

    Step(absl::StrCat("Killing the leader, node ", leader, ", with SIGKILL"));
    const auto killed = Clock::now();
    cluster_->Signal(leader, SIGKILL);
    raft::Term new_term = 0;
    const raft::NodeId next =
        WaitForLeader(kv, *cluster_, leader, 15000, &new_term);
    if (next == raft::kNoNode) return Fail("no new leader within 15 s");
    Say(absl::StrCat("node ", next, " took over for term ", new_term, " after ",
                     MillisSince(killed), " ms"));

    Step("Writes continue on the new leader; nothing acknowledged was lost");
    if (absl::Status s = kv.Put("demo/after-failover", "still here"); !s.ok()) {
      return Fail(std::string(s.message()));
    }
    Say("put demo/after-failover = still here");
    auto answer = kv.Get("demo/answer");
    if (!answer.ok() || *answer != std::optional<std::string>("42")) {
      return Fail("a write acknowledged before the failover is missing");
    }
    Say("get demo/answer -> 42   (written before the old leader died)");

    Step(absl::StrCat("Restarting node ", leader, " from its data directory"));
    if (absl::Status s = cluster_->StartNode(leader); !s.ok())
      return Fail(std::string(s.message()));
    const auto restarted = Clock::now();
    bool caught_up = false;
    while (MillisSince(restarted) < 15000 && !caught_up) {
      auto mine = kv.Status(cluster_->client_address(leader));
      auto theirs = kv.Status(cluster_->client_address(next));
      caught_up = mine.ok() && theirs.ok() && mine->applied >= theirs->commit &&
                  mine->applied > 0;
      if (!caught_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!caught_up)
      return Fail(
          absl::StrCat("node ", leader, " did not catch up within 15 s"));
    Say(absl::StrCat("node ", leader,
                     " rejoined as a follower and caught up in ",
                     MillisSince(restarted), " ms"));

    if (int code = ReplaceAndGrow(kv, leader); code != 0) return code;

    Step(
        "Every node holds the same data (each read from that node's own "
        "state)");
    std::optional<kv::ListResult> first;
    for (raft::NodeId id : cluster_->ids()) {
      if (!cluster_->running(id)) continue;
      auto list = kv.ListAt(cluster_->client_address(id), "demo/", 100);
      if (!list.ok()) return Fail(std::string(list.status().message()));
      std::string keys;
      for (const auto& [k, v] : list->items)
        absl::StrAppend(&keys, " ", k, "=", v);
      Say(absl::StrCat("node ", id, ":", keys));
      if (first.has_value() && first->items != list->items) {
        return Fail(absl::StrCat("node ", id, " differs from node 1"));
      }
      first = *list;
    }

    Step(
        "Stopping every node with SIGTERM (a leader hands over leadership "
        "first)");
    for (raft::NodeId id : cluster_->ids()) {
      if (!cluster_->running(id)) continue;
      auto code = cluster_->Stop(id);
      Say(absl::StrCat("node ", id,
                       code.ok()
                           ? absl::StrCat(" exited with ", *code)
                           : absl::StrCat(": ", code.status().message())));
    }
    return 0;
  }

  // Waits until node `id` is at most a few entries behind the leader.
  bool WaitCaughtUp(kv::Client& kv, raft::NodeId id) {
    const auto deadline = Clock::now() + std::chrono::seconds(15);
    while (Clock::now() < deadline) {
      auto members = kv.Members();
      if (members.ok()) {
        for (const kv::MemberInfo& m : members->members) {
          if (m.id == id && m.has_progress && m.match > 0 && m.lag < 5)
            return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Starts node `id` with --join, adds it as a learner, waits until it has
  // caught up, and promotes it.
  int Join(kv::Client& kv, raft::NodeId id) {
    if (absl::Status s = cluster_->AddNode(id); !s.ok())
      return Fail(std::string(s.message()));
    if (tls_) cluster_->set_node_flags(id, PeerFlags(id));
    if (absl::Status s = cluster_->StartNode(id); !s.ok())
      return Fail(std::string(s.message()));
    const std::string address = cluster_->address(id);
    Say(absl::StrCat("kvnode serve --node-id=", id, " --join=... --bind=",
                     address, "   (waits until it is added)"));
    const auto t = Clock::now();
    absl::Status added =
        kv.ChangeMembership({{raft::ConfChangeType::kAddLearner, id, address}});
    if (!added.ok()) return Fail(std::string(added.message()));
    Say(absl::StrCat("kvnode member add-learner ", id, " ", address));
    if (!WaitCaughtUp(kv, id))
      return Fail(absl::StrCat("node ", id, " did not catch up within 15 s"));
    Say(absl::StrCat("node ", id, " caught up as a learner in ", MillisSince(t),
                     " ms"));
    absl::Status promoted =
        kv.ChangeMembership({{raft::ConfChangeType::kPromoteLearner, id, ""}});
    if (!promoted.ok()) return Fail(std::string(promoted.message()));
    Say(absl::StrCat("kvnode member promote ", id, "   -> a voter"));
    return 0;
  }

  int ShowMembers(kv::Client& kv) {
    auto members = kv.Members();
    if (!members.ok()) return Fail(std::string(members.status().message()));
    for (const kv::MemberInfo& m : members->members) {
      Say(absl::StrCat("node ", m.id, " ", m.address, " ", m.suffrage,
                       m.id == members->leader ? " (leader)" : ""));
    }
    return 0;
  }

  int ReplaceAndGrow(kv::Client& kv, raft::NodeId avoid) {
    raft::NodeId dead = raft::kNoNode;
    for (raft::NodeId id : cluster_->ids()) {
      if (id != avoid && cluster_->running(id) &&
          kv.Status(cluster_->client_address(id)).ok() &&
          kv.Status(cluster_->client_address(id))->role != "leader") {
        dead = id;
      }
    }
    if (dead == raft::kNoNode) return Fail("no follower to replace");
    Step(absl::StrCat("Replacing a dead node: kill node ", dead,
                      ", remove it, and add a new node 4 in its place"));
    cluster_->Signal(dead, SIGKILL);
    absl::Status removed =
        kv.ChangeMembership({{raft::ConfChangeType::kRemoveNode, dead, ""}});
    if (!removed.ok()) return Fail(std::string(removed.message()));
    Say(absl::StrCat("kvnode member remove ", dead));
    if (int code = Join(kv, 4); code != 0) return code;
    if (int code = ShowMembers(kv); code != 0) return code;

    Step("Growing to 5 voters: nodes 5 and 6 join the same way");
    for (raft::NodeId id : {5, 6}) {
      if (int code = Join(kv, id); code != 0) return code;
    }
    if (absl::Status s = kv.Put("demo/members", "five"); !s.ok())
      return Fail(std::string(s.message()));
    Say("put demo/members = five   (now committed by 3 of 5)");
    return ShowMembers(kv);
  }

  std::string self_;
  bool tls_ = false;
  net::TlsFiles client_tls_;
  std::string dir_;
  std::unique_ptr<LocalCluster> cluster_;
};

}  // namespace

int RunDemo(const std::string& self, bool tls) { return Demo(self, tls).Run(); }

}  // namespace raftkv::cli
