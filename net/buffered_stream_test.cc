#include "net/buffered_stream.h"

#include <gtest/gtest.h>
#include <kj/async-io.h>

#include <string>
#include <vector>

namespace raftkv::net {
namespace {

TEST(BufferedStreamTest, DeliversEveryByteInOrderAcrossSmallAndLargeReads) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kj::TwoWayPipe pipe = io.provider->newTwoWayPipe();
  BufferedStream reader(kj::mv(pipe.ends[0]));
  std::string sent;
  for (int i = 0; i < 200000; ++i)
    sent.push_back(static_cast<char>('a' + i % 26));
  auto writing = pipe.ends[1]->write(sent.data(), sent.size());

  std::string received;
  char buffer[100000];
  for (size_t want : {1u, 7u, 8u, 3000u, 100000u, 5u, 90000u}) {
    size_t got = reader.tryRead(buffer, want, want).wait(io.waitScope);
    ASSERT_EQ(got, want);
    received.append(buffer, got);
  }
  writing.wait(io.waitScope);
  pipe.ends[1]->shutdownWrite();
  // The rest, then end of stream.
  while (true) {
    size_t got = reader.tryRead(buffer, 1, sizeof(buffer)).wait(io.waitScope);
    if (got == 0) break;
    received.append(buffer, got);
  }
  EXPECT_EQ(received.size(), sent.size());
  EXPECT_EQ(received, sent);
}

// A prefix is consumed only when the stream starts with it, whether it
// arrives whole or a byte at a time; otherwise the bytes stay to be read.
TEST(BufferedStreamTest, ConsumesAPrefixOnlyWhenTheStreamStartsWithIt) {
  static const kj::byte kPrefix[4] = {0xff, 0xfe, 'P', '1'};
  kj::AsyncIoContext io = kj::setupAsyncIo();
  {
    kj::TwoWayPipe pipe = io.provider->newTwoWayPipe();
    BufferedStream reader(kj::mv(pipe.ends[0]));
    auto matched = reader.ConsumePrefix(kj::arrayPtr(kPrefix, 4));
    for (int i = 0; i < 4; ++i) {  // a byte per write
      pipe.ends[1]->write(kPrefix + i, 1).wait(io.waitScope);
      io.provider->getTimer()
          .afterDelay(1 * kj::MILLISECONDS)
          .wait(io.waitScope);
    }
    pipe.ends[1]->write("rest", 4).wait(io.waitScope);
    EXPECT_TRUE(matched.wait(io.waitScope));
    char buffer[4];
    ASSERT_EQ(reader.tryRead(buffer, 4, 4).wait(io.waitScope), 4u);
    EXPECT_EQ(std::string(buffer, 4), "rest");
  }
  {
    kj::TwoWayPipe pipe = io.provider->newTwoWayPipe();
    BufferedStream reader(kj::mv(pipe.ends[0]));
    pipe.ends[1]->write("\xff\xfeXYZ", 5).wait(io.waitScope);
    EXPECT_FALSE(
        reader.ConsumePrefix(kj::arrayPtr(kPrefix, 4)).wait(io.waitScope));
    char buffer[5];
    ASSERT_EQ(reader.tryRead(buffer, 5, 5).wait(io.waitScope), 5u);
    EXPECT_EQ(std::string(buffer, 5), "\xff\xfeXYZ");
  }
  {
    kj::TwoWayPipe pipe = io.provider->newTwoWayPipe();
    BufferedStream reader(kj::mv(pipe.ends[0]));
    pipe.ends[1]->write("\xff", 1).wait(io.waitScope);
    pipe.ends[1]->shutdownWrite();  // ends inside the prefix
    EXPECT_FALSE(
        reader.ConsumePrefix(kj::arrayPtr(kPrefix, 4)).wait(io.waitScope));
  }
}

// Everything written in one event-loop turn leaves in one write, in order;
// writes of a later turn while that one is in progress leave in the next.
TEST(BufferedStreamTest, WritesOfOneTurnLeaveTogetherInOrder) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kj::TwoWayPipe pipe = io.provider->newTwoWayPipe();
  BufferedStream writer(kj::mv(pipe.ends[0]));
  std::string sent;
  std::vector<kj::Promise<void>> writes;
  for (int i = 0; i < 50; ++i) {
    const std::string message = "message " + std::to_string(i) + ";";
    sent += message;
    writes.push_back(writer.write(message.data(), message.size()));
  }
  EXPECT_EQ(writer.flushes(), 0u);  // nothing left before the turn ended
  // Each write reports done at once (the bytes were copied).
  for (auto& write : writes) EXPECT_TRUE(write.poll(io.waitScope));
  std::string received(sent.size(), '\0');
  pipe.ends[1]->read(received.data(), received.size()).wait(io.waitScope);
  EXPECT_EQ(received, sent);
  EXPECT_EQ(writer.flushes(), 1u);

  const std::string later = "later";
  writer.write(later.data(), later.size()).wait(io.waitScope);
  std::string tail(later.size(), '\0');
  pipe.ends[1]->read(tail.data(), tail.size()).wait(io.waitScope);
  EXPECT_EQ(tail, later);
  EXPECT_EQ(writer.flushes(), 2u);
}

// A writer far ahead of a peer that does not read waits; once the underlying
// write fails, every later write fails too.
TEST(BufferedStreamTest, HoldsBackAWriterFarAheadAndReportsAFailedWrite) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kj::TwoWayPipe pipe = io.provider->newTwoWayPipe();
  BufferedStream writer(kj::mv(pipe.ends[0]));
  std::string big(BufferedStream::kMaxPendingBytes, 'x');
  auto held = writer.write(big.data(), big.size());
  EXPECT_FALSE(held.poll(io.waitScope));  // nobody reads: it waits
  pipe.ends[1] = nullptr;                 // the peer goes away
  EXPECT_ANY_THROW(held.wait(io.waitScope));
  EXPECT_ANY_THROW(writer.write("y", 1).wait(io.waitScope));
}

}  // namespace
}  // namespace raftkv::net
