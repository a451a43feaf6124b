// Writes the seed corpora of the fuzz targets: valid inputs of each kind,
// which the fuzzers mutate and the regression tests replay. Usage:
//   bazel run //fuzz:make_seeds -- $PWD/fuzz/corpus
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz/capnp_input.h"
#include "kv/command.h"
#include "kv/log.h"
#include "kv/members.h"
#include "net/bytes.h"
#include "net/gzip.h"
#include "net/kv.capnp.h"
#include "net/raft.capnp.h"
#include "net/raft_codec.h"
#include "storage/memory_kv_store.h"
#include "storage/wal_format.h"
#include "storage/wal_log_storage.h"

namespace {

namespace fs = std::filesystem;
namespace wire = raftkv::net::wire;
using raftkv::net::AsData;

void Write(const fs::path& dir, const std::string& name,
           const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

raftkv::raft::Message Append() {
  raftkv::raft::Message m;
  m.type = raftkv::raft::MessageType::kAppend;
  m.from = 1;
  m.to = 2;
  m.term = 3;
  m.log_term = 2;
  m.index = 7;
  m.commit = 6;
  for (int i = 0; i < 2; ++i) {
    raftkv::raft::Entry e;
    e.term = 3;
    e.index = 8 + i;
    e.data = raftkv::kv::PutCommand(5, 1 + i, "k", "v", 1000);
    m.entries.push_back(e);
  }
  return m;
}

// Peer stream frames (net/raft.capnp, PeerFrame), one per file.
void PeerSeeds(const fs::path& dir) {
  capnp::MallocMessageBuilder hello_frame;
  auto hello = hello_frame.initRoot<wire::PeerFrame>().initHello();
  hello.setClusterId(42);
  hello.setFrom(2);
  hello.setPeerAddress("127.0.0.1:7002");
  Write(dir, "hello", raftkv::fuzz::FlatBytes(hello_frame));

  std::vector<raftkv::raft::Message> messages = {Append()};
  raftkv::raft::Message vote;
  vote.type = raftkv::raft::MessageType::kPreVote;
  vote.from = 2, vote.to = 1, vote.term = 4, vote.log_term = 3, vote.index = 9;
  messages.push_back(vote);
  raftkv::raft::Message snapshot;
  snapshot.type = raftkv::raft::MessageType::kSnapshot;
  snapshot.from = 1, snapshot.to = 3, snapshot.term = 3;
  snapshot.snapshot = {9, 3, {{1, 2, 3}, {4}}};
  messages.push_back(snapshot);
  capnp::MallocMessageBuilder batch;
  auto list = batch.initRoot<wire::PeerFrame>().initMessages(
      static_cast<unsigned>(messages.size()));
  for (unsigned i = 0; i < messages.size(); ++i)
    raftkv::net::ToWire(messages[i], list[i]);
  Write(dir, "messages", raftkv::fuzz::FlatBytes(batch));
  capnp::MallocMessageBuilder packed_batch;
  const std::string packed = raftkv::net::PackMessages(
      std::deque<raftkv::raft::Message>(messages.begin(), messages.end()),
      messages.size());
  packed_batch.initRoot<wire::PeerFrame>().setPacked(
      raftkv::net::AsData(packed));
  Write(dir, "packed", raftkv::fuzz::FlatBytes(packed_batch));

  capnp::MallocMessageBuilder chunk_frame;
  raftkv::raft::SnapshotChunk chunk;
  chunk.from = 1, chunk.to = 3, chunk.transfer = 77, chunk.offset = 0;
  chunk.data = "RKVS-some-bytes";
  chunk.last = true;
  chunk.message = snapshot;
  raftkv::net::ToWire(
      chunk, chunk_frame.initRoot<wire::PeerFrame>().initSnapshotChunk());
  Write(dir, "chunk", raftkv::fuzz::FlatBytes(chunk_frame));
  capnp::MallocMessageBuilder gzip_frame;
  chunk.last = false;
  chunk.data = raftkv::net::Gzip(std::string(4000, 'a') + "RKVS");
  chunk.gzip = true;
  raftkv::net::ToWire(
      chunk, gzip_frame.initRoot<wire::PeerFrame>().initSnapshotChunk());
  Write(dir, "chunk-gzip", raftkv::fuzz::FlatBytes(gzip_frame));

  capnp::MallocMessageBuilder ack_frame;
  raftkv::raft::SnapshotAck ack;
  ack.from = 3, ack.to = 1, ack.transfer = 77, ack.next_offset = 15;
  raftkv::net::ToWire(ack,
                      ack_frame.initRoot<wire::PeerFrame>().initSnapshotAck());
  Write(dir, "ack", raftkv::fuzz::FlatBytes(ack_frame));
}

void ClientSeeds(const fs::path& dir) {
  for (int kind = 0; kind < 5; ++kind) {
    capnp::MallocMessageBuilder message;
    auto command =
        message.initRoot<wire::KvService::WriteParams>().initCommand();
    command.getSession().setClientId(9);
    command.getSession().setSequence(1);
    if (kind == 0) {
      command.initPut().setKey(AsData("key"));
      command.getPut().setValue(AsData("value"));
    } else if (kind == 1) {
      command.initDelete().setKey(AsData("key"));
    } else if (kind == 2) {
      auto cas = command.initCas();
      cas.setKey(AsData("key"));
      cas.setExpected(AsData("old"));
      cas.setValue(AsData("new"));
    } else if (kind == 3) {
      auto cas = command.initCas();
      cas.setKey(AsData("key"));
      cas.setExpectAbsent(true);
      cas.setValue(AsData("new"));
    } else {
      command.setNoop();
    }
    Write(dir, "write-" + std::to_string(kind),
          std::string(1, '\0') + raftkv::fuzz::FlatBytes(message));
  }
  capnp::MallocMessageBuilder get;
  get.initRoot<wire::KvService::GetParams>().setKey(AsData("key"));
  Write(dir, "get", std::string(1, '\1') + raftkv::fuzz::FlatBytes(get));
  capnp::MallocMessageBuilder list;
  auto params = list.initRoot<wire::KvService::ListParams>();
  params.setPrefix(AsData("k"));
  params.setLimit(10);
  Write(dir, "list", std::string(1, '\2') + raftkv::fuzz::FlatBytes(list));
}

void CommandSeeds(const fs::path& dir) {
  std::string entries;
  auto add = [&entries](const std::string& data, bool conf) {
    entries += static_cast<char>((std::min<size_t>(data.size(), 127) << 1) |
                                 (conf ? 1 : 0));
    entries += data.substr(0, 127);
  };
  add(raftkv::kv::PutCommand(3, 1, "a", "1", 1000), false);
  add(raftkv::kv::PutCommand(3, 2, "b", "2", 1000), false);
  add(raftkv::kv::DeleteCommand(3, 3, "a", 1000), false);
  add(raftkv::kv::PutCommand(3, 2, "b", "2", 1000),
      false);      // a retry: once only
  add("", false);  // a leader's no-op
  Write(dir, "commands", entries);
}

void SnapshotSeeds(const fs::path& dir) {
  raftkv::storage::MemoryKvStore store;
  raftkv::storage::KvBatch batch;
  batch.applied_index = 5;
  batch.mutations = {
      {raftkv::storage::KvMutation::Kind::kPut, "a", "1"},
      {raftkv::storage::KvMutation::Kind::kPut, "b", std::string(70, 'x')}};
  batch.session_puts = {{7, "session-state"}};
  (void)store.Apply(batch);
  auto reader = store.ReadSnapshot();
  std::string stream;
  while (true) {
    auto chunk = (*reader)->NextChunk(1 << 20);
    if (!chunk.ok() || !chunk->has_value()) break;
    stream += **chunk;
  }
  Write(dir, "stream-chunks-of-5", std::string(1, '\4') + stream);
  Write(dir, "stream-one-chunk", std::string(1, '\77') + stream);
}

void ParserSeeds(const fs::path& dir) {
  Write(
      dir, "cluster",
      std::string(1, '\0') + "1=127.0.0.1:7001,2=127.0.0.1:7002,3=[::1]:7003");
  Write(dir, "level", std::string(1, '\1') + "warning");
  Write(dir, "members",
        std::string(1, '\2') +
            raftkv::kv::EncodeMembers(
                {{1, "127.0.0.1:7001"}, {2, "127.0.0.1:7002"}}));
}

void CoreSeeds(const fs::path& dir) {
  // op bytes as core_fuzzer reads them: 6 campaign, 2 deliver, 5 propose,
  // 0 tick, 8 hostile.
  std::string elect = {6, 0};
  for (int i = 0; i < 30; ++i) elect += '\2';
  std::string write = elect + std::string{5, 0, 3};
  for (int i = 0; i < 30; ++i) write += '\2';
  std::string ticks;
  for (int i = 0; i < 40; ++i) ticks += std::string{0, static_cast<char>(i)};
  for (int i = 0; i < 40; ++i) ticks += '\2';
  std::string hostile = write + std::string{8, 9, 5, 1, static_cast<char>(250),
                                            1, 2, 3, 4, 5,
                                            6, 7, 8, 3, 3,
                                            3};
  Write(dir, "elect", elect);
  Write(dir, "elect-write", write);
  Write(dir, "ticks", ticks);
  Write(dir, "hostile", hostile);
}

// Write-ahead logs (wal_fuzzer's script of segments and frames), written by
// WalLogStorage itself with small segments, then turned into scripts.
std::string WalScript(const fs::path& log_dir) {
  std::vector<std::string> names;
  for (const auto& file : fs::directory_iterator(log_dir)) {
    if (raftkv::storage::wal::ParseSegmentName(file.path().filename().string()))
      names.push_back(file.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  std::string script;
  for (const std::string& name : names) {
    if (!script.empty()) script.push_back('\xff');
    std::ifstream in(log_dir / name, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    auto scan = raftkv::storage::wal::ScanSegment(bytes, true, name);
    if (!scan.ok()) abort();
    for (const auto& frame : scan->frames) {
      if (frame.payload.size() > 0xfffd) abort();
      script.push_back('\1');
      script.push_back(static_cast<char>(frame.payload.size() >> 8));
      script.push_back(static_cast<char>(frame.payload.size() & 0xff));
      script.append(frame.payload.data(), frame.payload.size());
    }
  }
  return script;
}

void WalSeeds(const fs::path& dir) {
  using raftkv::raft::Entry;
  const fs::path work = fs::temp_directory_path() / "make_seeds_wal";
  fs::remove_all(work);
  raftkv::storage::WalLogStorageOptions options;
  options.segment_bytes = 400;
  {
    auto log = raftkv::storage::WalLogStorage::Open(work.string(), options);
    if (!log.ok()) abort();
    auto& wal = **log;
    if (!wal.InstallSnapshot({0, 0, {{1, 2, 3}, {}, {}}}).ok()) abort();
    for (uint64_t i = 1; i <= 40; i += 4) {
      std::vector<Entry> entries;
      for (uint64_t j = i; j < i + 4; ++j)
        entries.push_back(Entry{1 + i / 20, j, raftkv::raft::EntryType::kNormal,
                                "put k" + std::to_string(j)});
      if (!wal.Save(raftkv::raft::HardState{1 + i / 20, 1, i}, entries).ok())
        abort();
    }
    const Entry replaced{4, 38, raftkv::raft::EntryType::kConfChange, "conf"};
    if (!wal.Save(raftkv::raft::HardState{4, 2, 30}, {&replaced, 1}).ok())
      abort();
    Write(dir, "log", WalScript(work));
    if (!wal.Compact(30, {{1, 2, 3}, {}, {}}).ok()) abort();
  }
  Write(dir, "compacted-log", WalScript(work));
  Write(dir, "torn-tail",
        WalScript(work) + std::string("\xfe\0\0\1\0\x12\x34", 7));
  fs::remove_all(work);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
    return 2;
  }
  const fs::path root(argv[1]);
  PeerSeeds(root / "peer_message_fuzzer");
  ClientSeeds(root / "client_request_fuzzer");
  CommandSeeds(root / "command_codec_fuzzer");
  SnapshotSeeds(root / "snapshot_codec_fuzzer");
  ParserSeeds(root / "parsers_fuzzer");
  CoreSeeds(root / "core_fuzzer");
  WalSeeds(root / "wal_fuzzer");
  return 0;
}
