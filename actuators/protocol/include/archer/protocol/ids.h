#pragma once
// The three ids of the actuation path, as distinct types so that one cannot be passed for another:
// a device id (the MQTT topic level and Kafka key), a command id (the Command's `id`, equal to its
// record's archer-id) and an interaction id (one exchange with a device; the MQTT 5 CorrelationData).
// All three are UTF-8 text on the wire.
#include <compare>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace archer::protocol {

template <class Tag>
class Id {
 public:
  Id() = default;
  explicit Id(std::string text) : text_(std::move(text)) {}
  explicit Id(std::string_view text) : text_(text) {}
  explicit Id(const char* text) : text_(text) {}

  const std::string& str() const { return text_; }
  bool empty() const { return text_.empty(); }

  friend auto operator<=>(const Id&, const Id&) = default;
  friend bool operator==(const Id&, const Id&) = default;

 private:
  std::string text_;
};

using DeviceId = Id<struct DeviceIdTag>;
using CommandId = Id<struct CommandIdTag>;
using InteractionId = Id<struct InteractionIdTag>;

}  // namespace archer::protocol

template <class Tag>
struct std::hash<archer::protocol::Id<Tag>> {
  std::size_t operator()(const archer::protocol::Id<Tag>& id) const noexcept { return std::hash<std::string>{}(id.str()); }
};

// fmt prints an id as its text.
template <class Tag>
struct fmt::formatter<archer::protocol::Id<Tag>> : fmt::formatter<std::string_view> {
  auto format(const archer::protocol::Id<Tag>& id, fmt::format_context& context) const {
    return fmt::formatter<std::string_view>::format(id.str(), context);
  }
};
