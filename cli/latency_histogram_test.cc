#include "cli/latency_histogram.h"

#include <gtest/gtest.h>

namespace raftkv::cli {
namespace {

TEST(LatencyHistogramTest, Percentiles_WithinThreePercent) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.Record(v);  // uniform 1 µs .. 100 ms
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.max(), 100000u);
  for (double p : {0.5, 0.9, 0.99, 0.999}) {
    const double truth = p * 100000;
    EXPECT_NEAR(static_cast<double>(h.Percentile(p)), truth, truth * 0.032)
        << p;
  }
  EXPECT_EQ(h.Percentile(1.0), 100000u);
  EXPECT_NEAR(h.mean(), 50000.5, 0.01);
}

TEST(LatencyHistogramTest, SmallValuesExactAndMergeAdds) {
  LatencyHistogram a, b;
  for (int i = 0; i < 99; ++i) a.Record(7);
  b.Record(30000000);  // one 30 s outlier
  a.Merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_EQ(a.Percentile(0.5), 7u);
  EXPECT_EQ(a.Percentile(0.99), 7u);
  EXPECT_EQ(a.max(), 30000000u);
  EXPECT_NEAR(static_cast<double>(a.Percentile(1.0)), 30000000.0,
              30000000 * 0.032);
  EXPECT_EQ(LatencyHistogram().Percentile(0.5), 0u);
}

}  // namespace
}  // namespace raftkv::cli
