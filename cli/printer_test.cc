#include "cli/printer.h"

#include "gtest/gtest.h"

namespace raftkv::cli {
namespace {

Report MemberList() {
  Report report;
  std::vector<Record> members;
  members.push_back(Record()
                        .Number("id", 1)
                        .Bytes("address", "127.0.0.1:7001")
                        .Bool("leader", true));
  members.push_back(Record()
                        .Number("id", 12)
                        .Bytes("address", "127.0.0.1:7002")
                        .Bool("leader", false)
                        .Number("lag", 3));
  report.record.Hex("cluster_id", 0xabc)
      .Number("leader", 1)
      .List("members", std::move(members));
  return report;
}

TEST(PrinterTest, JsonKeepsFieldNamesAndOrder) {
  EXPECT_EQ(Render(MemberList(), Output::kJson),
            "{\"cluster_id\":\"0000000000000abc\",\"leader\":1,\"members\":["
            "{\"id\":1,\"address\":\"127.0.0.1:7001\",\"leader\":true},"
            "{\"id\":12,\"address\":\"127.0.0.1:7002\",\"leader\":false,"
            "\"lag\":3}]}\n");
}

TEST(PrinterTest, TableAlignsColumnsAndMarksMissingCells) {
  EXPECT_EQ(Render(MemberList(), Output::kTable),
            "CLUSTER_ID        LEADER\n"
            "0000000000000abc  1\n"
            "\n"
            "ID  ADDRESS         LEADER  LAG\n"
            "1   127.0.0.1:7001  true    -\n"
            "12  127.0.0.1:7002  false   3\n");
}

TEST(PrinterTest, SimpleIsTheCommandsFormElseTheTable) {
  Report report = MemberList();
  EXPECT_EQ(Render(report, Output::kSimple), Render(report, Output::kTable));
  report.simple = "OK\n";
  EXPECT_EQ(Render(report, Output::kSimple), "OK\n");
}

TEST(PrinterTest, BytesThatAreNotUtf8AreBase64InJson) {
  Report report;
  report.record.Bytes("key", "caf\xc3\xa9").Bytes("value", "\xff\xfe\"");
  EXPECT_EQ(Render(report, Output::kJson),
            "{\"key\":\"caf\xc3\xa9\",\"value_base64\":\"//4i\"}\n");
  report.record = Record().Bytes("key", "a\"b\n");
  EXPECT_EQ(Render(report, Output::kJson), "{\"key\":\"a\\\"b\\u000a\"}\n");
  // Overlong encodings and surrogates are not UTF-8.
  EXPECT_FALSE(ValidUtf8("\xc0\xaf"));
  EXPECT_FALSE(ValidUtf8("\xed\xa0\x80"));
  EXPECT_TRUE(ValidUtf8("\xf0\x9f\x98\x80"));
}

TEST(PrinterTest, JsonOnlyFieldsStayOutOfTables) {
  Report report;
  report.record.Bytes("key", "k")
      .Bool("found", true)
      .JsonOnly()
      .Bytes("value", "v");
  EXPECT_EQ(Render(report, Output::kTable), "KEY  VALUE\nk    v\n");
  EXPECT_EQ(Render(report, Output::kJson),
            "{\"key\":\"k\",\"found\":true,\"value\":\"v\"}\n");
}

TEST(PrinterTest, NestedObjectsNumbersAndReals) {
  Report report;
  report.record.Numbers("voters", {1, 2, 3})
      .Real("ratio", 0.5, 3)
      .Null("current")
      .Object("latency_ms", Record().Real("p50", 1.25, 2));
  EXPECT_EQ(Render(report, Output::kJson),
            "{\"voters\":[1,2,3],\"ratio\":0.500,\"current\":null,"
            "\"latency_ms\":{\"p50\":1.25}}\n");
  EXPECT_EQ(Render(report, Output::kTable),
            "VOTERS  RATIO  CURRENT\n1,2,3   0.500  -\n\nP50\n1.25\n");
  EXPECT_EQ(Record().Number("index", 7).Bytes("file", "f").Vertical(),
            "index  7\nfile   f\n");
}

}  // namespace
}  // namespace raftkv::cli
