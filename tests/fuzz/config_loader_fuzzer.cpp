// libFuzzer target for the config loader (archer::parse_config, bridge/core/src/config.cpp): the
// input is the text of a TOML file. Whatever it holds, loading never crashes or throws: it gives a
// config, or problems, each naming the file ("file:line:col: key: message"). The file is placed in
// the build's schema folder, so a `schema = "telemetry.bfbs"` finds the real file and other names
// give "does not exist" problems; nothing else is read.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "archer/core/config.h"

namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "broken: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path file = std::filesystem::path(ARCHER_SCHEMA_DIR) / "fuzz.toml";
  static const std::string prefix = file.string() + ":";
  // A copy of exactly the input's size, so ASan sees any read past its end.
  const std::string text(reinterpret_cast<const char*>(data), size);
  const archer::ConfigResult result = archer::parse_config(text, file);
  require(result.config.has_value() == result.errors.empty(), "a config, or problems");
  for (const std::string& error : result.errors) require(error.starts_with(prefix), "every problem names the file");
  if (!result.config) return 0;
  const archer::Config& config = *result.config;
  require(config.error_at("gateway.id", "x").starts_with(prefix), "error_at names the file");
  for (const archer::IngestSection& section : config.ingest) {
    require(!section.mqtt.text().empty() && section.mqtt.text().size() <= archer::kMaxTopicBytes,
            "topic templates within the limits");
    require(section.mqtt.capture_names().size() <= archer::kMaxCaptures, "captures within the limit");
  }
  return 0;
}
