#pragma once
// What the ingest fuzzers share: the telemetry schema of the build, and Validators over it like a
// section's. A fuzzer cannot run without them, so a failure aborts with the reason.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "archer/ingest/schema.h"
#include "archer/ingest/validator.h"

namespace archer::fuzz {

inline std::shared_ptr<const ingest::Schema> telemetry_schema() {
  auto loaded = ingest::Schema::load(std::string(ARCHER_SCHEMA_DIR) + "/telemetry.bfbs");
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error.c_str());
    std::abort();
  }
  return loaded.schema;
}

// A Validator taking the formats given, with at most 64 KiB per payload; `bind` ties the topic's
// device and seq captures to the reading's fields.
inline ingest::Validator telemetry_validator(const std::shared_ptr<const ingest::Schema>& schema, bool flatbuffers,
                                             bool json, bool bind) {
  ingest::ValidatorSettings settings;
  settings.section = "fuzz";
  settings.max_payload = 64 * 1024;
  settings.accept_flatbuffers = flatbuffers;
  settings.accept_json = json;
  if (bind) settings.bind = {{"device", "device"}, {"seq", "seq"}};
  std::string error;
  auto validator = ingest::Validator::create(schema, settings, error);
  if (!validator) {
    std::fprintf(stderr, "%s\n", error.c_str());
    std::abort();
  }
  return std::move(*validator);
}

}  // namespace archer::fuzz
