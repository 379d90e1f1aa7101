#include "archer/core/metrics.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace archer {
namespace {

void escape_label_value(std::string_view value, std::string& out) {
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
}

std::string render_labels(const Labels& labels, std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string out = "{";
  auto append = [&out](std::string_view name, std::string_view value) {
    if (out.size() > 1) out += ',';
    out += name;
    out += "=\"";
    escape_label_value(value, out);
    out += '"';
  };
  for (const auto& [name, value] : labels) append(name, value);
  if (!extra_name.empty()) append(extra_name, extra_value);
  out += '}';
  return out;
}

// Prometheus wants "+Inf" and shortest-round-trip numbers.
std::string number(double value) { return fmt::format("{}", value); }

}  // namespace

const char* type_name(Metrics::Type type) {
  switch (type) {
    case Metrics::Type::counter:
      return "counter";
    case Metrics::Type::gauge:
      return "gauge";
    case Metrics::Type::histogram:
      return "histogram";
  }
  return "untyped";
}

const std::vector<double> kLatencyBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5,   1,      2.5,   5,    10,    30,   60,  300};

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()), buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) throw std::invalid_argument("histogram bounds not sorted");
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  const auto at = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[static_cast<std::size_t>(at)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot out;
  out.bounds = bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out.cumulative.push_back(running);
  }
  out.sum = sum_.load(std::memory_order_relaxed);
  return out;
}

void RecentEvents::add(Event event) {
  std::lock_guard lock(mutex_);
  events_.push_back(std::move(event));
  while (events_.size() > capacity_) events_.pop_front();
}

std::vector<RecentEvents::Event> RecentEvents::list() const {
  std::lock_guard lock(mutex_);
  return {events_.begin(), events_.end()};
}

Metrics::Series& Metrics::series(std::string_view name, std::string_view help, Type type, const Labels& labels) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;
    it->second.help = std::string(help);
    it->second.type = type;
  }
  if (it->second.type != type) throw std::logic_error(fmt::format("metric {} registered with two types", name));
  Series& out = it->second.series[render_labels(labels)];
  out.labels = labels;
  return out;
}

Counter& Metrics::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& slot = series(name, help, Type::counter, labels);
  if (!slot.counter) slot.counter = std::make_unique<Counter>();
  return *slot.counter;
}

Gauge& Metrics::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& slot = series(name, help, Type::gauge, labels);
  if (!slot.gauge) slot.gauge = std::make_unique<Gauge>();
  return *slot.gauge;
}

Histogram& Metrics::histogram(std::string_view name, std::string_view help, const Labels& labels,
                              std::span<const double> bounds) {
  std::lock_guard lock(mutex_);
  Series& slot = series(name, help, Type::histogram, labels);
  if (!slot.histogram) slot.histogram = std::make_unique<Histogram>(bounds);
  return *slot.histogram;
}

std::vector<Metrics::Sample> Metrics::samples() const {
  std::lock_guard lock(mutex_);
  std::vector<Sample> out;
  for (const auto& [name, family] : families_) {
    for (const auto& [rendered, one] : family.series) {
      Sample sample{name, family.help, family.type, one.labels, 0, {}};
      if (one.counter) sample.value = static_cast<double>(one.counter->value());
      if (one.gauge) sample.value = one.gauge->value();
      if (one.histogram) sample.histogram = one.histogram->snapshot();
      out.push_back(std::move(sample));
    }
  }
  return out;
}

std::string Metrics::prometheus_text() const {
  std::string out;
  std::string_view current;
  const std::vector<Sample> all = samples();
  for (const Sample& sample : all) {
    if (sample.name != current) {
      current = sample.name;
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", sample.name, sample.help, sample.name, type_name(sample.type));
    }
    if (sample.type != Type::histogram) {
      out += fmt::format("{}{} {}\n", sample.name, render_labels(sample.labels), number(sample.value));
      continue;
    }
    const Histogram::Snapshot& h = sample.histogram;
    for (std::size_t i = 0; i < h.cumulative.size(); ++i) {
      const std::string le = i < h.bounds.size() ? number(h.bounds[i]) : "+Inf";
      out += fmt::format("{}_bucket{} {}\n", sample.name, render_labels(sample.labels, "le", le), h.cumulative[i]);
    }
    out += fmt::format("{}_sum{} {}\n", sample.name, render_labels(sample.labels), number(h.sum));
    out += fmt::format("{}_count{} {}\n", sample.name, render_labels(sample.labels), h.count());
  }
  return out;
}

}  // namespace archer
