#include "net/gzip.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace raftkv::net {
namespace {

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(GzipTest, RoundTripsTextAndRandomBytes) {
  std::string text;
  for (int i = 0; i < 20000; ++i)
    text += "{\"user\":" + std::to_string(i) + "}";
  const std::string random = RandomBytes(1 << 20, 7);
  for (const std::string& data : {std::string(), text, random}) {
    const std::string packed = Gzip(data);
    absl::StatusOr<std::string> back = Gunzip(packed, data.size());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, data);
  }
  // Repetitive data shrinks; random data does not (a sender keeps the raw
  // bytes then).
  EXPECT_LT(Gzip(text).size(), text.size() / 4);
  EXPECT_GE(Gzip(random).size(), random.size());
}

TEST(GzipTest, RefusesToInflatePastTheLimit) {
  // 64 MiB of zeros is about 64 KiB of gzip: a bomb for a 4 MiB limit.
  const std::string bomb = Gzip(std::string(64 << 20, '\0'));
  ASSERT_LT(bomb.size(), 1u << 20);
  absl::StatusOr<std::string> out = Gunzip(bomb, 4 << 20);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("limit of 4194304 bytes"),
            std::string::npos)
      << out.status();
  // Exactly at the limit is fine.
  EXPECT_TRUE(Gunzip(Gzip(std::string(1000, 'x')), 1000).ok());
  EXPECT_FALSE(Gunzip(Gzip(std::string(1001, 'x')), 1000).ok());
}

TEST(GzipTest, CorruptOrTruncatedInputIsAnError) {
  const std::string good =
      Gzip(std::string(100000, 'a') + RandomBytes(1000, 3));
  EXPECT_FALSE(Gunzip("not gzip at all", 1 << 20).ok());
  EXPECT_FALSE(Gunzip(good.substr(0, good.size() / 2), 1 << 20).ok());
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x5a;
  flipped[flipped.size() - 6] ^= 0x5a;  // the trailer's checksum
  EXPECT_FALSE(Gunzip(flipped, 1 << 20).ok());
}

}  // namespace
}  // namespace raftkv::net
