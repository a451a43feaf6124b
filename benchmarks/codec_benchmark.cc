// Cap'n Proto encoding cost of the hottest peer message: an AppendEntries with
// 64 entries of 256 bytes, encoded to a flat array (what the transport sends)
// and decoded back into a raft::Message (what the receiver steps).

#include <benchmark/benchmark.h>
#include <capnp/message.h>
#include <capnp/serialize.h>

#include "net/raft_codec.h"

namespace raftkv::benchmarks {
namespace {

raft::Message Append64() {
  raft::Message m;
  m.type = raft::MessageType::kAppend;
  m.from = 1;
  m.to = 2;
  m.term = 3;
  m.index = 1000;
  m.log_term = 3;
  m.commit = 999;
  for (raft::LogIndex i = 1001; i <= 1064; ++i) {
    m.entries.push_back(
        raft::Entry{3, i, raft::EntryType::kNormal, std::string(256, 'e')});
  }
  return m;
}

void BM_EncodeAppend64(benchmark::State& state) {
  const raft::Message m = Append64();
  size_t bytes = 0;
  for (auto _ : state) {
    capnp::MallocMessageBuilder builder;
    net::ToWire(m, builder.initRoot<net::wire::RaftMessage>());
    kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
    bytes = words.asBytes().size();
    benchmark::DoNotOptimize(words.begin());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["messages_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["wire_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EncodeAppend64);

void BM_DecodeAppend64(benchmark::State& state) {
  capnp::MallocMessageBuilder builder;
  net::ToWire(Append64(), builder.initRoot<net::wire::RaftMessage>());
  kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  for (auto _ : state) {
    capnp::FlatArrayMessageReader reader(words);
    absl::StatusOr<raft::Message> m =
        net::FromWire(reader.getRoot<net::wire::RaftMessage>());
    benchmark::DoNotOptimize(m->entries.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * words.asBytes().size()));
  state.counters["messages_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodeAppend64);

}  // namespace
}  // namespace raftkv::benchmarks
