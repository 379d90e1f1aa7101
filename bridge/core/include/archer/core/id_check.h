#pragma once
// Why a device id (or any id that names a topic level or a Kafka key) is refused, in words an
// operator can act on. The rule is is_valid_id's (topic_template.h): [A-Za-z0-9._:-]{1,128}. The
// reasons name what matters for identity first: a '/', '+' or '#' would address, or match, another
// device's topics; a NUL or bad UTF-8 cannot be an MQTT topic at all.
#include <cstddef>
#include <string>
#include <string_view>

namespace archer {

// "" when is_valid_id(value); else the first problem found, e.g. "contains '/'" or "is 200 bytes
// long, over the limit of 128".
std::string id_problem(std::string_view value);

// `value` for a log line or a header: printable ASCII as is, any other byte as \xNN, cut after
// `max_bytes` input bytes with "..." and the full length.
std::string printable_id(std::string_view value, std::size_t max_bytes = 64);

}  // namespace archer
