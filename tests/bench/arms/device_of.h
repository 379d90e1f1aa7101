#pragma once
// The device id in a telemetry topic devices/{device}/telemetry: its second level (the whole topic
// when it has no '/'). What the minimal bridge arms key their records by.
#include <string_view>

namespace archer::bench {

inline std::string_view device_of(std::string_view topic) {
  const std::size_t first = topic.find('/');
  if (first == std::string_view::npos) return topic;
  const std::size_t second = topic.find('/', first + 1);
  return topic.substr(first + 1, second == std::string_view::npos ? std::string_view::npos : second - first - 1);
}

}  // namespace archer::bench
