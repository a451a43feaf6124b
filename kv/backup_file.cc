#include "kv/backup_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "raft/status_macros.h"
#include "storage/codec.h"
#include "storage/kv_snapshot_codec.h"

namespace raftkv::kv {
namespace {

constexpr char kMagic[] = "RAFTKV-BACKUP 1\n";
// "\nchecksum=" + 16 hex digits + "\n".
constexpr size_t kTrailerBytes = 27;

std::string Hex16(uint64_t value) {
  return absl::StrCat(absl::Hex(value, absl::kZeroPad16));
}

absl::Status Bad(const std::string& path, const std::string& what) {
  return absl::DataLossError(
      absl::StrCat(path, " is not a whole raftkv backup: ", what));
}

// The header, line by line, into `info`; `hash` and `offset` advance over it.
absl::Status ReadHeader(FILE* file, const std::string& path, BackupInfo* out,
                        uint64_t* hash_out, uint64_t* offset_out) {
  BackupInfo& info = *out;
  uint64_t& hash = *hash_out;
  uint64_t& offset = *offset_out;
  std::string line;
  auto read_line = [&]() -> bool {
    line.clear();
    for (int c; (c = fgetc(file)) != EOF;) {
      line.push_back(static_cast<char>(c));
      ++offset;
      if (c == '\n') return true;
      if (line.size() > 4096) return false;
    }
    return false;
  };
  if (!read_line() || line != kMagic) return Bad(path, "no backup header");
  hash = storage::Fnv1a64(hash, line);
  bool have_index = false;
  while (true) {
    if (!read_line()) return Bad(path, "the header is cut short");
    hash = storage::Fnv1a64(hash, line);
    if (line == "\n") break;
    std::pair<std::string, std::string> field =
        absl::StrSplit(absl::string_view(line).substr(0, line.size() - 1),
                       absl::MaxSplits('=', 1));
    const std::string& value = field.second;
    if (field.first == "cluster_id") {
      if (!absl::SimpleHexAtoi(value, &info.cluster_id))
        return Bad(path, "a bad cluster_id");
    } else if (field.first == "index") {
      have_index = absl::SimpleAtoi(value, &info.index);
    } else if (field.first == "term") {
      (void)absl::SimpleAtoi(value, &info.term);
    } else if (field.first == "voters") {
      for (absl::string_view v :
           absl::StrSplit(value, ',', absl::SkipEmpty())) {
        raft::NodeId id = 0;
        if (!absl::SimpleAtoi(v, &id)) return Bad(path, "a bad voter id");
        info.voters.push_back(id);
      }
    } else if (field.first == "member") {
      std::pair<std::string, std::string> member =
          absl::StrSplit(value, absl::MaxSplits(' ', 1));
      raft::NodeId id = 0;
      if (!absl::SimpleAtoi(member.first, &id))
        return Bad(path, "a bad member line");
      info.members[id] = member.second;
    }
  }
  if (!have_index || info.voters.empty())
    return Bad(path, "the header lacks its index or voters");
  return absl::OkStatus();
}

}  // namespace

BackupWriter::~BackupWriter() {
  if (file_ != nullptr) {
    fclose(file_);
    unlink((path_ + ".part").c_str());
  }
}

absl::Status BackupWriter::Write(const std::string& bytes) {
  if (fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return absl::UnavailableError(
        absl::StrCat("writing ", path_, ".part failed: ", strerror(errno)));
  }
  hash_ = storage::Fnv1a64(hash_, bytes);
  return absl::OkStatus();
}

absl::Status BackupWriter::Begin(const BackupInfo& info) {
  if (file_ != nullptr) fclose(file_);
  file_ = fopen((path_ + ".part").c_str(), "wb");
  if (file_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", path_, ".part: ", strerror(errno)));
  }
  hash_ = storage::kFnv1a64Offset;
  std::string header = kMagic;
  absl::StrAppend(&header, "cluster_id=", Hex16(info.cluster_id),
                  "\nindex=", info.index, "\nterm=", info.term,
                  "\nvoters=", absl::StrJoin(info.voters, ","), "\n");
  for (const auto& [id, address] : info.members)
    absl::StrAppend(&header, "member=", id, " ", address, "\n");
  header += "\n";
  return Write(header);
}

absl::Status BackupWriter::Append(const std::string& chunk) {
  if (file_ == nullptr) return absl::FailedPreconditionError("not begun");
  return Write(chunk);
}

absl::Status BackupWriter::Finish() {
  if (file_ == nullptr) return absl::FailedPreconditionError("not begun");
  const std::string trailer = absl::StrCat("\nchecksum=", Hex16(hash_), "\n");
  RETURN_IF_ERROR(Write(trailer));
  const bool synced = fflush(file_) == 0 && fsync(fileno(file_)) == 0;
  fclose(file_);
  file_ = nullptr;
  if (!synced || rename((path_ + ".part").c_str(), path_.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("saving ", path_, " failed: ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<BackupInfo> ReadBackup(
    const std::string& path,
    const std::function<absl::Status(const std::string&)>& on_stream_chunk) {
  FILE* file = fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  }
  struct Closer {
    FILE* f;
    ~Closer() { fclose(f); }
  } closer{file};
  struct stat st;
  if (fstat(fileno(file), &st) != 0) return Bad(path, "cannot stat it");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  BackupInfo info;
  info.bytes = size;
  uint64_t hash = storage::kFnv1a64Offset;

  uint64_t offset = 0;
  RETURN_IF_ERROR(ReadHeader(file, path, &info, &hash, &offset));
  if (size < offset + kTrailerBytes) return Bad(path, "it is truncated");

  // The stream, checked record by record, then the file checksum.
  storage::SnapshotDecoder decoder;
  info.stream_offset = offset;
  info.stream_bytes = size - offset - kTrailerBytes;
  uint64_t left = info.stream_bytes;
  std::string chunk;
  absl::Status stream_error;
  while (left > 0) {
    chunk.resize(std::min<uint64_t>(left, 1 << 20));
    if (fread(chunk.data(), 1, chunk.size(), file) != chunk.size())
      return Bad(path, "it is truncated");
    left -= chunk.size();
    hash = storage::Fnv1a64(hash, chunk);
    // A stream error is reported after the file checksum: a damaged byte
    // reads as "checksum mismatch", not as whatever the decoder made of it.
    if (stream_error.ok()) {
      stream_error =
          decoder.Feed(chunk, [&](const storage::SnapshotRecord& record) {
            if (record.kind == storage::SnapshotRecord::Kind::kKeyValue) {
              ++info.keys;
            } else {
              ++info.sessions;
            }
            return absl::OkStatus();
          });
    }
    if (stream_error.ok() && on_stream_chunk)
      RETURN_IF_ERROR(on_stream_chunk(chunk));
  }
  std::string trailer(kTrailerBytes, '\0');
  if (fread(trailer.data(), 1, kTrailerBytes, file) != kTrailerBytes ||
      trailer.rfind("\nchecksum=", 0) != 0 ||
      !absl::SimpleHexAtoi(trailer.substr(10, 16), &info.checksum)) {
    return Bad(path, "it is truncated (no checksum line at its end)");
  }
  if (info.checksum != hash) {
    return Bad(path, absl::StrCat("it is damaged: checksum mismatch (the file "
                                  "says ",
                                  Hex16(info.checksum), ", its bytes hash to ",
                                  Hex16(hash), ")"));
  }
  if (stream_error.ok()) stream_error = decoder.Finish();
  if (!stream_error.ok()) return Bad(path, std::string(stream_error.message()));
  if (decoder.applied_index() != info.index)
    return Bad(path, "the header's index differs from the data's");
  return info;
}

}  // namespace raftkv::kv
