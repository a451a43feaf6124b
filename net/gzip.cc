#include "net/gzip.h"

#include <kj/compat/gzip.h>
#include <kj/exception.h>
#include <kj/io.h>

#include "absl/strings/str_cat.h"

namespace raftkv::net {

std::string Gzip(absl::string_view data, int level) {
  kj::VectorOutputStream out(data.size() / 2 + 64);
  {
    kj::GzipOutputStream gzip(out, level);
    gzip.write(data.data(), data.size());
  }  // the destructor writes the rest of the stream and its trailer
  kj::ArrayPtr<kj::byte> bytes = out.getArray();
  return std::string(reinterpret_cast<const char*>(bytes.begin()),
                     bytes.size());
}

absl::StatusOr<std::string> Gunzip(absl::string_view compressed, size_t limit) {
  std::string out;
  bool too_large = false;
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions([&] {
    kj::ArrayInputStream in(
        kj::arrayPtr(reinterpret_cast<const kj::byte*>(compressed.data()),
                     compressed.size()));
    kj::GzipInputStream gzip(in);
    char buffer[16384];
    while (true) {
      // Ask for one byte past the limit at most: enough to know it is passed.
      const size_t want = std::min(sizeof(buffer), limit + 1 - out.size());
      const size_t got = gzip.tryRead(buffer, 1, want);
      if (got == 0) break;
      out.append(buffer, got);
      if (out.size() > limit) {
        too_large = true;
        break;
      }
    }
  });
  if (too_large) {
    return absl::InvalidArgumentError(
        absl::StrCat("gzip data inflates past the limit of ", limit, " bytes"));
  }
  KJ_IF_MAYBE (e, failure) {
    return absl::InvalidArgumentError(
        absl::StrCat("corrupt gzip data: ", e->getDescription().cStr()));
  }
  return out;
}

}  // namespace raftkv::net
