// LatencyHistogram: a log-linear histogram of latencies in microseconds, in the
// manner of HdrHistogram: values are bucketed by power of two with 32 linear
// sub-buckets each, so a reported percentile is within 1/32 (about 3%) of the
// true value, from 1 µs to over an hour, in a fixed 2 KiB. Merge() combines
// per-thread histograms. Thread safety: none; give each thread its own and
// merge. Invariant: count() equals the sum of all buckets; max() is exact.
#ifndef RAFTKV_CLI_LATENCY_HISTOGRAM_H_
#define RAFTKV_CLI_LATENCY_HISTOGRAM_H_

#include <array>
#include <cstdint>

namespace raftkv::cli {

class LatencyHistogram {
 public:
  void Record(uint64_t micros);
  void Merge(const LatencyHistogram& other);
  // The latency at or below which `fraction` (0..1] of the samples fall, in
  // microseconds.
  uint64_t Percentile(double fraction) const;
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const {
    return count_ == 0 ? 0 : static_cast<double>(sum_) / count_;
  }

 private:
  static constexpr int kSubBits = 5;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = 64 * kSub;
  static int Index(uint64_t micros);
  static uint64_t UpperBound(int index);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

}  // namespace raftkv::cli

#endif  // RAFTKV_CLI_LATENCY_HISTOGRAM_H_
