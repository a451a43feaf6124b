// The write-ahead log's open (storage/wal_log_storage.h): whatever the segment
// files hold, opening them either fails with an error or gives a log that
// reads back whole, takes new writes, and reopens to the same state. Never a
// crash, never a log that cannot be reopened after its own writes.
//
// Input: a script of segment files. A byte 0xff starts the next segment file;
// 0xfe makes the rest of the input raw bytes appended to the current file (a
// torn or damaged tail); any other byte is followed by a big-endian u16 length
// and that many bytes of payload, written as one frame with a correct CRC, so
// the fuzzer explores what records say rather than checksums.
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage/wal_format.h"
#include "storage/wal_log_storage.h"

namespace {

namespace fs = std::filesystem;
using raftkv::storage::WalLogStorage;

// The frame format, written independently of wal_format.cc's encoder.
std::string Frame(const std::string& payload) {
  std::string frame(8, '\0');
  const uint32_t length = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i)
    frame[i] = static_cast<char>(length >> (24 - 8 * i));
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(frame.data()), 4);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(payload.data()),
              static_cast<uInt>(payload.size()));
  for (int i = 0; i < 4; ++i)
    frame[4 + i] =
        static_cast<char>(static_cast<uint32_t>(crc) >> (24 - 8 * i));
  return frame + payload;
}

std::vector<std::string> Segments(const uint8_t* data, size_t size) {
  std::vector<std::string> files(1);
  size_t at = 0;
  while (at < size && files.size() <= 8) {
    const uint8_t tag = data[at++];
    if (tag == 0xff) {
      files.emplace_back();
    } else if (tag == 0xfe) {
      files.back().append(reinterpret_cast<const char*>(data + at), size - at);
      break;
    } else {
      if (size - at < 2) break;
      size_t length = (static_cast<size_t>(data[at]) << 8) | data[at + 1];
      at += 2;
      length = std::min(length, size - at);
      if (length == 0) continue;
      files.back() +=
          Frame(std::string(reinterpret_cast<const char*>(data + at), length));
      at += length;
    }
  }
  return files;
}

struct Seen {
  raftkv::raft::InitialState state;
  raftkv::raft::LogIndex last;
  friend bool operator==(const Seen& a, const Seen& b) {
    return a.state.hard_state == b.state.hard_state &&
           a.state.snapshot == b.state.snapshot && a.last == b.last;
  }
};

Seen See(const WalLogStorage& log) {
  return Seen{log.GetInitialState(), log.LastIndex()};
}

raftkv::storage::WalLogStorageOptions Options() {
  raftkv::storage::WalLogStorageOptions options;
  options.segment_bytes = 512;
  options.entry_cache_bytes = 64;
  return options;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* tmp = getenv("TEST_TMPDIR");
  const fs::path dir = fs::path(tmp != nullptr ? tmp : "/tmp") /
                       ("wal_fuzzer." + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() { fs::remove_all(dir); }
  } cleanup{dir};
  const std::vector<std::string> files = Segments(data, size);
  for (size_t i = 0; i < files.size(); ++i) {
    std::ofstream out(dir / raftkv::storage::wal::SegmentName(i + 1),
                      std::ios::binary);
    out.write(files[i].data(), static_cast<std::streamsize>(files[i].size()));
  }
  Seen after_writes;
  {
    auto log = WalLogStorage::Open(dir.string(), Options());
    if (!log.ok()) return 0;
    WalLogStorage& wal = **log;
    const raftkv::raft::LogIndex first = wal.FirstIndex(),
                                 last = wal.LastIndex();
    if (last >= first && last - first < 100000) {
      auto entries = wal.Entries(first, last + 1, raftkv::raft::kNoByteLimit);
      if (!entries.ok() || entries->size() != last - first + 1) abort();
      for (raftkv::raft::LogIndex i = first; i <= last; ++i) {
        if (!wal.TermAt(i).ok() || (*entries)[i - first].index != i) abort();
      }
    }
    // New writes go through (the log is not left broken by what it read).
    auto term = wal.TermAt(last);
    if (!term.ok()) abort();
    if (last < UINT64_MAX / 2) {
      const raftkv::raft::Entry next{*term, last + 1,
                                     raftkv::raft::EntryType::kNormal, "next"};
      if (!wal.Save(std::nullopt, {&next, 1}).ok()) abort();
      if (!wal.Compact(last + 1, {{1}, {}, {}}).ok()) abort();
    }
    after_writes = See(wal);
  }
  auto again = WalLogStorage::Open(dir.string(), Options());
  if (!again.ok() || !(See(**again) == after_writes)) abort();
  return 0;
}
