#include "archer/core/metrics.h"

#include <gtest/gtest.h>

namespace archer {
namespace {

TEST(Histogram, CountsEachObservationInTheFirstBucketThatHoldsIt) {
  const std::vector<double> bounds{0.01, 0.1, 1};
  Histogram h(bounds);
  h.observe(0.005);
  h.observe(0.01);  // an upper bound is inclusive (Prometheus `le`)
  h.observe(0.5);
  h.observe(7);
  const Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 2, 3, 4}));
  EXPECT_EQ(s.count(), 4u);
  EXPECT_DOUBLE_EQ(s.sum, 7.515);
}

TEST(Metrics, RendersHistogramsAsPrometheusBucketsSumAndCount) {
  Metrics metrics;
  const std::vector<double> bounds{0.1, 1};
  metrics.histogram("archer_test_seconds", "A test", {{"section", "a"}}, bounds).observe(0.5);
  const std::string text = metrics.prometheus_text();
  EXPECT_NE(text.find("# TYPE archer_test_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("archer_test_seconds_bucket{section=\"a\",le=\"0.1\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("archer_test_seconds_bucket{section=\"a\",le=\"1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("archer_test_seconds_bucket{section=\"a\",le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("archer_test_seconds_sum{section=\"a\"} 0.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("archer_test_seconds_count{section=\"a\"} 1\n"), std::string::npos) << text;
}

TEST(Metrics, SamplesCarryLabelsAndValuesAndCountersStayIntegers) {
  Metrics metrics;
  metrics.counter("archer_x_total", "x", {{"section", "s"}, {"reason", "bad_json"}}).add(3);
  metrics.gauge("archer_y", "y").set(-2);
  const auto samples = metrics.samples();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].name, "archer_x_total");
  EXPECT_EQ(samples[0].labels, (Labels{{"section", "s"}, {"reason", "bad_json"}}));
  EXPECT_EQ(samples[0].value, 3);
  EXPECT_EQ(samples[1].value, -2);
  const std::string text = metrics.prometheus_text();
  EXPECT_NE(text.find("archer_x_total{section=\"s\",reason=\"bad_json\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("archer_y -2\n"), std::string::npos) << text;
}

TEST(Metrics, OneNameCannotHaveTwoTypes) {
  Metrics metrics;
  metrics.counter("archer_z", "z");
  EXPECT_THROW(metrics.gauge("archer_z", "z"), std::logic_error);
}

TEST(RecentEvents, KeepsTheNewestUpToItsCapacity) {
  RecentEvents events(2);
  for (int i = 1; i <= 3; ++i) events.add({i, {{"n", std::to_string(i)}}});
  const auto kept = events.list();
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].unix_ms, 2);
  EXPECT_EQ(kept[1].unix_ms, 3);
}

}  // namespace
}  // namespace archer
