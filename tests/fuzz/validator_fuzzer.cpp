// libFuzzer target for archer::ingest::Validator: every input is validated as the bridge would
// (no content type, declared JSON, declared FlatBuffers; both formats, flatbuffers only, json only;
// aligned and misaligned), and whatever is accepted must also pass the schema's generated verifier
// and read back through reflection.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "archer/ingest/schema.h"
#include "archer/ingest/validator.h"
#include "archer/schemas/telemetry_generated.h"
#include "telemetry_validators.h"

namespace {

using archer::ingest::Capture;
using archer::ingest::ValidationResult;
using archer::ingest::Validator;

struct Fixture {
  std::shared_ptr<const archer::ingest::Schema> schema;
  std::vector<Validator> validators;
};

Fixture& fixture() {
  static Fixture* f = [] {
    auto* made = new Fixture;
    made->schema = archer::fuzz::telemetry_schema();
    const bool formats[][2] = {{true, true}, {true, false}, {false, true}};
    for (const auto& format : formats) {
      made->validators.push_back(archer::fuzz::telemetry_validator(made->schema, format[0], format[1], true));
    }
    return made;
  }();
  return *f;
}

void check(const ValidationResult& result, const archer::ingest::Schema& schema) {
  if (!result.ok()) {
    if (result.detail().empty() || result.code_name().empty() || !result.bytes().empty()) std::abort();
    return;
  }
  const std::span<const std::uint8_t> bytes = result.bytes();
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  if (!archer::telemetry::VerifyTelemetryBuffer(verifier)) std::abort();  // reflection and generated disagree
  const auto* telemetry = archer::telemetry::GetTelemetry(bytes.data());
  if (telemetry->device() == nullptr) std::abort();
  (void)schema.read_field_as_text(bytes, "device");
  (void)schema.read_field_as_text(bytes, "reading");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  // Copy into an exact-size heap buffer (ASan catches any read past it) and a misaligned one.
  std::unique_ptr<std::uint8_t[]> exact(new std::uint8_t[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(exact.get(), data, size);
  std::unique_ptr<std::uint8_t[]> shifted(new std::uint8_t[size + 1]);
  if (size != 0) std::memcpy(shifted.get() + 1, data, size);
  const std::span<const std::uint8_t> aligned_payload(exact.get(), size);
  const std::span<const std::uint8_t> misaligned_payload(shifted.get() + 1, size);

  // The seeds carry device "env-1" and seq 3, so both the bind match and mismatch paths are reached.
  const Capture captures[] = {{"device", "env-1"}, {"seq", "3"}};
  const char* content_types[] = {"", "application/json", "application/x-flatbuffers", "text/plain"};
  for (Validator& validator : f.validators) {
    for (const char* content_type : content_types) {
      check(validator.validate(aligned_payload, content_type, captures), *f.schema);
    }
    check(validator.validate(misaligned_payload, "", captures), *f.schema);
    check(validator.validate(aligned_payload, "", {}), *f.schema);
  }
  return 0;
}
