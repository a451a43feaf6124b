// Client: `snapshot save` (a consistent backup streamed from the leader).
#include "kv/backup_file.h"
#include "kv/client_impl.h"

namespace raftkv::kv {

using client_internal::ToStatus;

namespace {

// Receives the leader's stream into a BackupWriter; a `begin` starts over.
class Sink final : public net::wire::SnapshotSink::Server {
 public:
  explicit Sink(BackupWriter& writer, absl::Status& error)
      : writer_(writer), error_(error) {}

  kj::Promise<void> begin(BeginContext context) override {
    auto in = context.getParams().getInfo();
    BackupInfo info;
    info.cluster_id = in.getClusterId();
    info.index = in.getIndex();
    info.term = in.getTerm();
    for (uint64_t v : in.getVoters()) info.voters.push_back(v);
    for (auto m : in.getMembers()) info.members[m.getId()] = m.getAddress();
    return Check(writer_.Begin(info));
  }

  kj::Promise<void> write(WriteContext context) override {
    return Check(writer_.Append(ToString(context.getParams().getChunk())));
  }

 private:
  kj::Promise<void> Check(absl::Status status) {
    if (status.ok()) return kj::READY_NOW;
    error_ = status;
    return KJ_EXCEPTION(FAILED, std::string(status.message()));
  }
  BackupWriter& writer_;
  absl::Status& error_;
};

}  // namespace

absl::StatusOr<BackupInfo> Client::SaveSnapshot(const std::string& path) {
  BackupWriter writer(path);
  absl::Status local_error;
  net::wire::SnapshotSink::Client sink = kj::heap<Sink>(writer, local_error);
  auto reply = impl_->Call([&](KvService::Client& kv) {
    auto request = kv.saveSnapshotRequest();
    request.setSink(sink);
    return request.send().then(
        [](auto response) { return Decode(response.getResult()); });
  });
  if (!local_error.ok()) return local_error;
  if (!reply.ok()) return reply.status();
  if (absl::Status status = ToStatus(*reply); !status.ok()) return status;
  if (absl::Status finished = writer.Finish(); !finished.ok()) return finished;
  // What was written must read back whole.
  return ReadBackup(path);
}

}  // namespace raftkv::kv
