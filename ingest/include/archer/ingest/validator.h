#pragma once
// Payload validation of one [[ingest]] section: size limit, format detection, JSON -> FlatBuffers
// conversion, verification against the section's schema and the `bind` check (payload field equals
// topic capture). Pure logic: no MQTT, no Kafka. A rejected payload gets an error code (the
// `archer-error` dead-letter header) and a human detail (`archer-error-detail`).
//
// Order of the checks:
//   1. size > max_payload                        -> too_large (nothing parsed)
//   2. format: the MQTT 5 content type decides when it names one (format_from_content_type), else
//      the content does (sniff_format: '{' after optional whitespace / UTF-8 BOM -> JSON, else binary)
//   3. a format the section does not accept: the error is named after what the section expected:
//        JSON to a flatbuffers-only section    -> not_flatbuffers
//        binary to a json-only section         -> bad_json
//      (exception: a payload that merely LOOKS like JSON with no content type is still verified as a
//       FlatBuffer by a flatbuffers-only section, and only rejected as not_flatbuffers if that fails)
//   4. JSON: nested deeper than kMaxJsonDepth   -> bad_json (nothing parsed)
//      parsed with the schema (flatbuffers::Parser, strict JSON, unknown fields and unknown enum
//      names rejected)                          -> bad_json, detail with line and column
//   5. binary (and the converted JSON):
//        shorter than 8 bytes, root offset or root vtable outside the buffer or misaligned
//                                               -> not_flatbuffers (not plausibly a FlatBuffer at all)
//        file_identifier differs from the schema's (when it declares one)
//                                               -> schema_mismatch
//        reflection verification fails (flatbuffers::Verify, at most kMaxVerifyDepth deep and
//        kMaxVerifyTables tables, schema.h),
//        or what Verify lets through but generated verifiers reject: an absent `(required)` field,
//        a union/string/table/vector offset of 0 or >= 2 GiB (Schema::post_verify_problem),
//        a union slot outside its table (Schema::union_slots_in_bounds, checked before Verify,
//        which would read out of bounds)                -> schema_mismatch
//   6. bind: each (payload field, topic capture) must be equal: string fields byte for byte, integer
//      fields by their decimal text ("7" == 7, "007" != 7; an absent integer field is its default);
//      an absent string field, or a capture missing from the topic -> bind_mismatch
//
// Thread safety: validate() is not thread-safe (the JSON path reuses one flatbuffers::Parser and a
// text buffer). A Validator belongs to one thread; make one per thread from the same shared Schema.
//
// Cost: JSON costs several microseconds (flatbuffers::Parser); a JSON payload that fails to parse
// also rebuilds the parser (~25 us), because flatbuffers 2.0.8 leaks parser state on such errors.
// The binary path does not allocate on success (it returns a view of the input). Payloads
// whose address is not 8-byte aligned are copied once into an aligned buffer (FlatBuffers reads
// scalars in place); MQTT client libraries hand out heap buffers, which are aligned.
// Size-prefixed FlatBuffers are not accepted.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archer/core/config.h"
#include "archer/ingest/schema.h"

namespace archer::ingest {

// JSON payloads may nest objects and arrays this deep (docs/limits.md); our telemetry needs 2.
inline constexpr std::size_t kMaxJsonDepth = 16;

enum class ValidationError : std::uint8_t {
  none = 0,
  too_large,
  not_flatbuffers,
  schema_mismatch,
  bad_json,
  bind_mismatch,
  bad_topic,  // not produced by the Validator: the pipeline's (topic does not match / bad capture)
};

// "too_large", "not_flatbuffers", "schema_mismatch", "bad_json", "bind_mismatch", "bad_topic";
// "" for none.
std::string_view code_name(ValidationError error);

// One topic capture: {device} -> "env-1".
struct Capture {
  std::string_view name;
  std::string_view value;
};
using BindValues = std::span<const Capture>;

struct ValidatorSettings {
  std::string section;  // the [[ingest]] name, for messages
  std::uint64_t max_payload = 256 * 1024;
  bool accept_flatbuffers = true;
  bool accept_json = false;
  std::vector<std::pair<std::string, std::string>> bind;  // (payload field, topic capture)

  static ValidatorSettings from(const IngestSection& section);
};

class ValidationResult {
 public:
  bool ok() const { return error_ == ValidationError::none; }
  ValidationError error() const { return error_; }
  std::string_view code_name() const { return ingest::code_name(error_); }
  const std::string& detail() const { return detail_; }
  // The format the payload was taken as (after detection).
  PayloadFormat format() const { return format_; }
  // On success, the verified FlatBuffers bytes: for binary input a view of the caller's payload
  // (valid as long as it is), for JSON the converted buffer owned by this result. Empty on failure.
  std::span<const std::uint8_t> bytes() const {
    return owned_ ? std::span<const std::uint8_t>(buffer_) : view_;
  }
  bool owns_bytes() const { return owned_; }

 private:
  friend class Validator;
  ValidationError error_ = ValidationError::none;
  PayloadFormat format_ = PayloadFormat::flatbuffers;
  bool owned_ = false;
  std::string detail_;
  std::span<const std::uint8_t> view_;
  std::vector<std::uint8_t> buffer_;
};

// The format named by an MQTT 5 content type, ignoring case and parameters (";charset=utf-8"):
//   application/json, text/json, any */*+json                          -> json
//   application/x-flatbuffers, application/flatbuffers,
//   application/octet-stream                                         -> flatbuffers
// anything else (including empty)                                    -> nullopt: sniff the content
std::optional<PayloadFormat> format_from_content_type(std::string_view content_type);
// By content: '{' after optional JSON whitespace and UTF-8 BOM -> json, else flatbuffers. (A real
// FlatBuffer cannot start with '{': its first 4 bytes are the root offset, and an odd one is misaligned.)
PayloadFormat sniff_format(std::span<const std::uint8_t> payload);

// One way `settings` do not fit a schema: the key within the [[ingest]] section ("bind.serial",
// "formats") and what is wrong.
struct SettingsProblem {
  std::string key;
  std::string message;
};
// Every such problem (a bind field the root table lacks or that is neither a string nor an
// integer; no format accepted); empty when Validator::create would take the settings with `schema`.
std::vector<SettingsProblem> settings_problems(const Schema& schema, const ValidatorSettings& settings);

class Validator {
 public:
  // Resolves the bind fields against the schema's root table (each must exist and be a string or an
  // integer field) and, when JSON is accepted, builds the JSON parser. nullopt with `error` set
  // ("ingest telemetry: bind.serial: ...", the first of settings_problems()) when the settings do
  // not fit the schema.
  static std::optional<Validator> create(std::shared_ptr<const Schema> schema, ValidatorSettings settings,
                                         std::string& error);

  Validator(Validator&&) noexcept;
  Validator& operator=(Validator&&) noexcept;
  ~Validator();

  // See the file comment for the order of checks. `captures` holds the topic's captures by name.
  ValidationResult validate(std::span<const std::uint8_t> payload, std::string_view content_type,
                            BindValues captures);

  const Schema& schema() const { return *schema_; }
  const std::shared_ptr<const Schema>& shared_schema() const { return schema_; }
  const ValidatorSettings& settings() const { return settings_; }

 private:
  struct Bind {
    const reflection::Field* field;
    std::string field_name;
    std::string capture;
  };

  Validator() = default;
  void validate_binary(std::span<const std::uint8_t> payload, ValidationResult& result) const;
  void validate_json(std::span<const std::uint8_t> payload, ValidationResult& result);
  // Checks a buffer of `result` (view or owned) that passed verification.
  void check_bind(ValidationResult& result, BindValues captures) const;
  // The structural / identifier / reflection checks; false with result's error and detail set.
  bool verify(const std::uint8_t* data, std::size_t size, ValidationResult& result) const;

  std::shared_ptr<const Schema> schema_;
  ValidatorSettings settings_;
  std::vector<Bind> binds_;
  std::unique_ptr<flatbuffers::Parser> parser_;  // when JSON is accepted
  std::string json_text_;                        // NUL-terminated copy of a JSON payload, reused
};

}  // namespace archer::ingest
