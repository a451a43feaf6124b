#include "cli/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace raftkv::cli {

int LatencyHistogram::Index(uint64_t v) {
  if (v < kSub) return static_cast<int>(v);  // exact below 32 µs
  const int msb = 63 - __builtin_clzll(v);   // v in [2^msb, 2^(msb+1))
  const int shift = msb - kSubBits;
  const int sub = static_cast<int>((v >> shift) & (kSub - 1));
  return (shift + 1) * kSub + sub;
}

uint64_t LatencyHistogram::UpperBound(int index) {
  if (index < kSub) return static_cast<uint64_t>(index);
  const int shift = index / kSub - 1;
  const uint64_t sub = static_cast<uint64_t>(index % kSub);
  return ((static_cast<uint64_t>(kSub) + sub + 1) << shift) - 1;
}

void LatencyHistogram::Record(uint64_t micros) {
  ++buckets_[std::min(Index(micros), kBuckets - 1)];
  ++count_;
  sum_ += micros;
  max_ = std::max(max_, micros);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::Percentile(double fraction) const {
  if (count_ == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(fraction * count_)));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(UpperBound(i), max_);
  }
  return max_;
}

}  // namespace raftkv::cli
