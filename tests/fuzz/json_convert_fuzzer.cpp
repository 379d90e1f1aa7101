// libFuzzer target for ingest's JSON path: JSON text converted to FlatBuffers with the telemetry
// schema by a JSON-only Validator (flatbuffers::Parser, then verification and the bind check).
// Whatever the text: no crash, a detail for every refusal, nothing nested deeper than
// kMaxJsonDepth accepted; what is accepted verifies with the generated verifier, and its text form
// (flatbuffers::GenerateText) converts again to a buffer whose text is the same.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>

#include <flatbuffers/idl.h>

#include "archer/ingest/schema.h"
#include "archer/ingest/validator.h"
#include "archer/schemas/telemetry_generated.h"
#include "telemetry_validators.h"

namespace {

using archer::ingest::Capture;
using archer::ingest::Validator;

void require(bool condition) {
  if (!condition) std::abort();
}

struct Fixture {
  std::shared_ptr<const archer::ingest::Schema> schema;
  std::optional<Validator> validator;  // JSON only, bind device and seq
  std::optional<Validator> unbound;    // JSON only, no bind: the re-conversion
  std::unique_ptr<flatbuffers::Parser> printer;
};

Fixture& fixture() {
  static Fixture* f = [] {
    auto* made = new Fixture;
    made->schema = archer::fuzz::telemetry_schema();
    made->validator = archer::fuzz::telemetry_validator(made->schema, false, true, true);
    made->unbound = archer::fuzz::telemetry_validator(made->schema, false, true, false);
    std::string error;
    made->printer = made->schema->make_json_parser(error);
    require(made->printer != nullptr);
    return made;
  }();
  return *f;
}

std::string text_of(const Fixture& f, std::span<const std::uint8_t> buffer) {
  std::string text;
  require(flatbuffers::GenerateText(*f.printer, buffer.data(), &text));
  return text;
}

std::size_t depth_of(std::string_view json) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    if (in_string) {
      if (json[i] == '\\')
        ++i;
      else if (json[i] == '"')
        in_string = false;
    } else if (json[i] == '"') {
      in_string = true;
    } else if (json[i] == '{' || json[i] == '[') {
      deepest = std::max(deepest, ++depth);
    } else if ((json[i] == '}' || json[i] == ']') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  std::unique_ptr<std::uint8_t[]> exact(new std::uint8_t[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(exact.get(), data, size);
  const std::span<const std::uint8_t> payload(exact.get(), size);

  // The seeds carry device "env-1" and seq 3, so both the bind match and mismatch paths are reached.
  const Capture captures[] = {{"device", "env-1"}, {"seq", "3"}};
  const auto result = f.validator->validate(payload, "application/json", captures);
  if (!result.ok()) {
    require(!result.detail().empty() && result.bytes().empty());
    return 0;
  }
  require(depth_of({reinterpret_cast<const char*>(data), size}) <= archer::ingest::kMaxJsonDepth);
  const std::span<const std::uint8_t> bytes = result.bytes();
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  require(archer::telemetry::VerifyTelemetryBuffer(verifier));

  const std::string text = text_of(f, bytes);
  const auto again = f.unbound->validate(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()),
                                         "application/json", {});
  if (!again.ok()) {
    std::fprintf(stderr, "the text of a converted payload does not convert again (%s): %s\n",
                 std::string(again.detail()).c_str(), text.c_str());
    std::abort();
  }
  require(text_of(f, again.bytes()) == text);
  return 0;
}
