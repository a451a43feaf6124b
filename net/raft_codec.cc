#include "net/raft_codec.h"

#include <capnp/serialize-packed.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "net/bytes.h"
#include "raft/status_macros.h"

namespace raftkv::net {
void ToWire(const raft::Message& m, wire::RaftMessage::Builder out) {
  out.setType(static_cast<uint8_t>(m.type));
  out.setFrom(m.from);
  out.setTo(m.to);
  out.setTerm(m.term);
  out.setLogTerm(m.log_term);
  out.setIndex(m.index);
  out.setCommit(m.commit);
  out.setReject(m.reject);
  out.setRejectHint(m.reject_hint);
  out.setHintTerm(m.hint_term);
  out.setTransfer(m.transfer);
  if (!m.context.empty()) out.setContext(AsData(m.context));
  if (!m.entries.empty()) {
    auto entries = out.initEntries(static_cast<unsigned>(m.entries.size()));
    for (size_t i = 0; i < m.entries.size(); ++i) {
      const raft::Entry& e = m.entries[i];
      auto entry = entries[static_cast<unsigned>(i)];
      entry.setTerm(e.term);
      entry.setIndex(e.index);
      entry.setType(static_cast<uint8_t>(e.type));
      entry.setData(AsData(e.data));
    }
  }
  if (m.type == raft::MessageType::kSnapshot) {
    auto snapshot = out.initSnapshot();
    snapshot.setIndex(m.snapshot.index);
    snapshot.setTerm(m.snapshot.term);
    auto voters = snapshot.initVoters(
        static_cast<unsigned>(m.snapshot.conf_state.voters.size()));
    for (size_t i = 0; i < m.snapshot.conf_state.voters.size(); ++i) {
      voters.set(static_cast<unsigned>(i), m.snapshot.conf_state.voters[i]);
    }
    auto learners = snapshot.initLearners(
        static_cast<unsigned>(m.snapshot.conf_state.learners.size()));
    for (size_t i = 0; i < m.snapshot.conf_state.learners.size(); ++i) {
      learners.set(static_cast<unsigned>(i), m.snapshot.conf_state.learners[i]);
    }
    const auto& outgoing_ids = m.snapshot.conf_state.voters_outgoing;
    auto outgoing =
        snapshot.initVotersOutgoing(static_cast<unsigned>(outgoing_ids.size()));
    for (size_t i = 0; i < outgoing_ids.size(); ++i) {
      outgoing.set(static_cast<unsigned>(i), outgoing_ids[i]);
    }
    out.setSnapshotData(AsData(m.snapshot_data));
  }
}

absl::StatusOr<raft::Message> FromWire(wire::RaftMessage::Reader in) {
  if (in.getType() > static_cast<uint8_t>(raft::kLastMessageType)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown raft message type ", in.getType()));
  }
  raft::Message m;
  m.type = static_cast<raft::MessageType>(in.getType());
  m.from = in.getFrom();
  m.to = in.getTo();
  m.term = in.getTerm();
  m.log_term = in.getLogTerm();
  m.index = in.getIndex();
  m.commit = in.getCommit();
  m.reject = in.getReject();
  m.reject_hint = in.getRejectHint();
  m.hint_term = in.getHintTerm();
  m.transfer = in.getTransfer();
  m.context = ToString(in.getContext());
  auto entries = in.getEntries();
  // (Not entries.size(): a list of empty structs may claim millions.)
  m.entries.reserve(std::min<size_t>(entries.size(), 1024));
  raft::LogIndex expected = m.index + 1;
  for (auto entry : entries) {
    if (entry.getType() > static_cast<uint8_t>(raft::EntryType::kConfChange)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown entry type ", entry.getType()));
    }
    if (entry.getIndex() != expected++) {
      return absl::InvalidArgumentError(
          "entries in a raft message are not contiguous");
    }
    m.entries.push_back(
        raft::Entry{entry.getTerm(), entry.getIndex(),
                    static_cast<raft::EntryType>(entry.getType()),
                    ToString(entry.getData())});
  }
  if (m.type == raft::MessageType::kSnapshot) {
    auto snapshot = in.getSnapshot();
    m.snapshot.index = snapshot.getIndex();
    m.snapshot.term = snapshot.getTerm();
    for (uint64_t id : snapshot.getVoters())
      m.snapshot.conf_state.voters.push_back(id);
    for (uint64_t id : snapshot.getLearners())
      m.snapshot.conf_state.learners.push_back(id);
    for (uint64_t id : snapshot.getVotersOutgoing())
      m.snapshot.conf_state.voters_outgoing.push_back(id);
    m.snapshot_data = ToString(in.getSnapshotData());
  }
  return m;
}

void ToWire(const raft::SnapshotChunk& chunk,
            wire::SnapshotChunk::Builder out) {
  out.setFrom(chunk.from);
  out.setTo(chunk.to);
  out.setTransfer(chunk.transfer);
  out.setOffset(chunk.offset);
  out.setData(AsData(chunk.data));
  out.setGzip(chunk.gzip);
  out.setLast(chunk.last);
  if (chunk.last) ToWire(chunk.message, out.initMessage());
}

absl::StatusOr<raft::SnapshotChunk> FromWire(wire::SnapshotChunk::Reader in) {
  raft::SnapshotChunk chunk;
  chunk.from = in.getFrom();
  chunk.to = in.getTo();
  chunk.transfer = in.getTransfer();
  chunk.offset = in.getOffset();
  if (in.getData().size() > kMaxSnapshotChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot chunk of ", in.getData().size(),
                     " bytes exceeds the limit of ", kMaxSnapshotChunkBytes));
  }
  chunk.data = ToString(in.getData());
  chunk.gzip = in.getGzip();
  chunk.last = in.getLast();
  if (chunk.last) {
    ASSIGN_OR_RETURN(chunk.message, FromWire(in.getMessage()));
    if (chunk.message.type != raft::MessageType::kSnapshot ||
        chunk.message.from != chunk.from || chunk.message.to != chunk.to) {
      return absl::InvalidArgumentError(
          "the last snapshot chunk must carry the snapshot message of its "
          "sender and receiver");
    }
  }
  return chunk;
}

void ToWire(const raft::SnapshotAck& ack, wire::SnapshotAck::Builder out) {
  out.setFrom(ack.from);
  out.setTo(ack.to);
  out.setTransfer(ack.transfer);
  out.setNextOffset(ack.next_offset);
  out.setOk(ack.ok);
}

raft::SnapshotAck FromWire(wire::SnapshotAck::Reader in) {
  return raft::SnapshotAck{in.getFrom(), in.getTo(), in.getTransfer(),
                           in.getNextOffset(), in.getOk()};
}

std::string PackMessages(const std::deque<raft::Message>& messages,
                         size_t count) {
  capnp::MallocMessageBuilder builder;
  auto list = builder.initRoot<wire::RaftBatch>().initMessages(
      static_cast<unsigned>(count));
  for (size_t i = 0; i < count; ++i)
    ToWire(messages[i], list[static_cast<unsigned>(i)]);
  kj::VectorOutputStream out;
  capnp::writePackedMessage(out, builder);
  kj::ArrayPtr<kj::byte> bytes = out.getArray();
  return std::string(reinterpret_cast<const char*>(bytes.begin()),
                     bytes.size());
}

absl::StatusOr<std::vector<raft::Message>> UnpackMessages(
    absl::string_view packed) {
  capnp::ReaderOptions limits;
  limits.traversalLimitInWords = kMaxUnpackedBatchBytes / sizeof(capnp::word);
  limits.nestingLimit = 16;
  absl::StatusOr<std::vector<raft::Message>> decoded;
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions([&] {
    kj::ArrayInputStream in(kj::arrayPtr(
        reinterpret_cast<const kj::byte*>(packed.data()), packed.size()));
    capnp::PackedMessageReader reader(in, limits);
    decoded = FromWire(reader.getRoot<wire::RaftBatch>().getMessages());
  });
  KJ_IF_MAYBE (e, failure) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed packed batch: ", e->getDescription().cStr()));
  }
  return decoded;
}

absl::StatusOr<std::vector<raft::Message>> FromWire(
    capnp::List<wire::RaftMessage>::Reader batch) {
  if (batch.size() > kMaxBatchMessages) {
    return absl::InvalidArgumentError(
        absl::StrCat("a batch of ", batch.size(),
                     " messages: more messages than a batch holds (",
                     kMaxBatchMessages, ")"));
  }
  std::vector<raft::Message> messages;
  messages.reserve(batch.size());
  for (auto wire : batch) {
    absl::StatusOr<raft::Message> m = FromWire(wire);
    if (m.ok()) messages.push_back(std::move(*m));  // malformed: left out
  }
  return messages;
}

}  // namespace raftkv::net
