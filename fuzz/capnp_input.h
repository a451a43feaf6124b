// Fuzz input as a Cap'n Proto message: the bytes are copied into aligned
// words and read with limits (a traversal limit, a nesting limit), then
// `use` gets the root. Malformed messages throw kj exceptions,
// which production turns into a dropped connection; here they are caught and
// are not findings. Anything else (a crash, a sanitizer report) is.
//
// Thread safety: a pure function.
#ifndef RAFTKV_FUZZ_CAPNP_INPUT_H_
#define RAFTKV_FUZZ_CAPNP_INPUT_H_

#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace raftkv::fuzz {

// A built message as the bytes on the wire (seeds, round trips).
inline std::string FlatBytes(capnp::MessageBuilder& message) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  return std::string(reinterpret_cast<const char*>(words.begin()),
                     words.size() * sizeof(capnp::word));
}

template <typename T, typename Use>
void WithRoot(const uint8_t* data, size_t size, Use&& use) {
  std::vector<capnp::word> words(size / sizeof(capnp::word) + 1);
  std::memcpy(words.data(), data, size);
  kj::ArrayPtr<const capnp::word> array(words.data(),
                                        size / sizeof(capnp::word));
  capnp::ReaderOptions options;
  // 512 KiB: enough for every shape of message; a larger limit only lets
  // lists of millions of empty elements slow each run down.
  options.traversalLimitInWords = 1 << 16;
  options.nestingLimit = 64;
  (void)kj::runCatchingExceptions([&] {
    capnp::FlatArrayMessageReader reader(array, options);
    use(reader.getRoot<T>());
  });
}

}  // namespace raftkv::fuzz

#endif  // RAFTKV_FUZZ_CAPNP_INPUT_H_
