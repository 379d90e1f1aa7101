#pragma once
// One registry of counters, gauges and histograms for the whole process, exposed as Prometheus text
// and as samples (the status page's JSON) by the HTTP endpoint, and summarised in the periodic log
// line. Registration takes a lock and returns a reference that stays valid for the registry's
// lifetime; updating a metric is one or two atomic adds. Every metric is listed in docs/metrics.md.
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace archer {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void add(double n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(double n) { value_.store(n, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, in the metric's base unit).
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void observe(double value);

  struct Snapshot {
    std::vector<double> bounds;             // upper bounds; +Inf is implied
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (= count)
    double sum = 0;
    std::uint64_t count() const { return cumulative.back(); }
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // not cumulative; the last is +Inf
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 1 ms to 5 min: a spooled reading can wait out a Kafka outage.
extern const std::vector<double> kLatencyBuckets;

// The last few events of one kind (e.g. dead letters with their reason), newest last, for the
// status page. Thread-safe.
class RecentEvents {
 public:
  struct Event {
    std::int64_t unix_ms = 0;
    Labels fields;  // e.g. section, reason, detail, topic
  };
  explicit RecentEvents(std::size_t capacity) : capacity_(capacity) {}
  void add(Event event);
  std::vector<Event> list() const;

 private:
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<Event> events_;
};

class Metrics {
 public:
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const Labels& labels = {},
                       std::span<const double> bounds = kLatencyBuckets);

  enum class Type { counter, gauge, histogram };
  struct Sample {
    std::string name;
    std::string help;
    Type type = Type::counter;
    Labels labels;
    double value = 0;               // counter and gauge
    Histogram::Snapshot histogram;  // histogram
  };
  // Every series, by name then label set.
  std::vector<Sample> samples() const;
  // Prometheus text exposition format 0.0.4.
  std::string prometheus_text() const;

  // Recent dead letters of every section (reason, detail, topic), for the status page.
  RecentEvents& dead_letters() { return dead_letters_; }
  const RecentEvents& dead_letters() const { return dead_letters_; }

 private:
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string help;
    Type type = Type::counter;
    std::map<std::string, Series> series;  // by rendered label set
  };
  Series& series(std::string_view name, std::string_view help, Type type, const Labels& labels);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
  RecentEvents dead_letters_{20};
};

// Prometheus's name of the type: "counter", "gauge", "histogram".
const char* type_name(Metrics::Type type);

}  // namespace archer
