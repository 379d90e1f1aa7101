#include "archer/ingest/validator.h"

#include <flatbuffers/idl.h>
#include <flatbuffers/reflection.h>
#include <flatbuffers/reflection_generated.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace archer::ingest {
namespace {

constexpr std::size_t kMaxQuoted = 64;

// Where JSON nests deeper than kMaxJsonDepth objects and arrays: the offset of the first bracket
// beyond it, or npos. Cheap next to the parse it spares (flatbuffers' own limit is 64, compiled
// into Debian's library).
std::size_t too_deep_at(std::string_view text) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return i;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool iends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && iequals(text.substr(text.size() - suffix.size()), suffix);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// A value from a payload or topic, made safe for a log line or a Kafka header: quoted, control and
// non-ASCII bytes escaped, cut after kMaxQuoted bytes.
std::string quote(std::string_view value) {
  std::string out = "\"";
  std::size_t n = 0;
  for (char c : value) {
    if (n++ == kMaxQuoted) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// flatbuffers reports "1: 21: error: message"; the detail says "line 1, column 21: message".
std::string json_error_detail(const std::string& error) {
  std::string_view text = error;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  unsigned line = 0;
  unsigned column = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  auto r1 = std::from_chars(p, end, line);
  if (r1.ec == std::errc() && std::string_view(r1.ptr, static_cast<std::size_t>(end - r1.ptr)).starts_with(": ")) {
    auto r2 = std::from_chars(r1.ptr + 2, end, column);
    constexpr std::string_view kError = ": error: ";
    if (r2.ec == std::errc() && std::string_view(r2.ptr, static_cast<std::size_t>(end - r2.ptr)).starts_with(kError)) {
      const std::string_view message(r2.ptr + kError.size(), static_cast<std::size_t>(end - r2.ptr) - kError.size());
      return fmt::format("invalid JSON at line {}, column {}: {}", line, column, message);
    }
  }
  return fmt::format("invalid JSON: {}", text);
}

template <class T>
std::string_view to_text(T value, std::array<char, 24>& storage) {
  auto [end, ec] = std::to_chars(storage.data(), storage.data() + storage.size(), value);
  return std::string_view(storage.data(), static_cast<std::size_t>(end - storage.data()));
}

bool is_bindable(reflection::BaseType type) {
  return type == reflection::String || (flatbuffers::IsInteger(type) && type != reflection::Bool);
}

// Not plausibly a FlatBuffer at all: returns why, or nullptr when the root table's frame is sane.
// Only reads inside [data, data + size): every offset is range-checked before it is followed.
std::string structural_problem(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return fmt::format("{} bytes is too short for a FlatBuffer", size);
  const auto root = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(data);
  if (root < sizeof(flatbuffers::uoffset_t) || root % 4 != 0 || root > size - sizeof(flatbuffers::soffset_t)) {
    return fmt::format("root offset {} does not point into the {}-byte buffer", root, size);
  }
  const auto vtable_delta = flatbuffers::ReadScalar<flatbuffers::soffset_t>(data + root);
  const std::int64_t vtable = static_cast<std::int64_t>(root) - vtable_delta;
  if (vtable < 0 || vtable % 2 != 0 || static_cast<std::uint64_t>(vtable) + 4 > size) {
    return fmt::format("root table's vtable offset {} is outside the {}-byte buffer", vtable, size);
  }
  const auto vtable_size = flatbuffers::ReadScalar<flatbuffers::voffset_t>(data + vtable);
  const auto table_size = flatbuffers::ReadScalar<flatbuffers::voffset_t>(data + vtable + 2);
  if (vtable_size < 4 || vtable_size % 2 != 0 || static_cast<std::uint64_t>(vtable) + vtable_size > size ||
      table_size < 4 || std::uint64_t{root} + table_size > size) {
    return fmt::format("root table's vtable (size {}, table size {}) does not fit the {}-byte buffer",
                       vtable_size, table_size, size);
  }
  return {};
}

}  // namespace

std::string_view code_name(ValidationError error) {
  switch (error) {
    case ValidationError::none: return "";
    case ValidationError::too_large: return "too_large";
    case ValidationError::not_flatbuffers: return "not_flatbuffers";
    case ValidationError::schema_mismatch: return "schema_mismatch";
    case ValidationError::bad_json: return "bad_json";
    case ValidationError::bind_mismatch: return "bind_mismatch";
    case ValidationError::bad_topic: return "bad_topic";
  }
  return "unknown";
}

ValidatorSettings ValidatorSettings::from(const IngestSection& section) {
  ValidatorSettings settings;
  settings.section = section.name;
  settings.max_payload = section.max_payload;
  settings.accept_flatbuffers = section.accepts(PayloadFormat::flatbuffers);
  settings.accept_json = section.accepts(PayloadFormat::json);
  settings.bind = section.bind;
  return settings;
}

std::optional<PayloadFormat> format_from_content_type(std::string_view content_type) {
  if (auto semicolon = content_type.find(';'); semicolon != std::string_view::npos) {
    content_type = content_type.substr(0, semicolon);
  }
  content_type = trim(content_type);
  if (content_type.empty()) return std::nullopt;
  if (iequals(content_type, "application/json") || iequals(content_type, "text/json") ||
      iends_with(content_type, "+json")) {
    return PayloadFormat::json;
  }
  if (iequals(content_type, "application/x-flatbuffers") || iequals(content_type, "application/flatbuffers") ||
      iequals(content_type, "application/octet-stream")) {
    return PayloadFormat::flatbuffers;
  }
  return std::nullopt;
}

PayloadFormat sniff_format(std::span<const std::uint8_t> payload) {
  std::size_t i = 0;
  if (payload.size() >= 3 && payload[0] == 0xEF && payload[1] == 0xBB && payload[2] == 0xBF) i = 3;
  while (i < payload.size() && (payload[i] == ' ' || payload[i] == '\t' || payload[i] == '\n' || payload[i] == '\r')) ++i;
  return i < payload.size() && payload[i] == '{' ? PayloadFormat::json : PayloadFormat::flatbuffers;
}

std::vector<SettingsProblem> settings_problems(const Schema& schema, const ValidatorSettings& settings) {
  std::vector<SettingsProblem> problems;
  if (!settings.accept_flatbuffers && !settings.accept_json) {
    problems.push_back({"formats", "accepts neither flatbuffers nor json"});
  }
  for (const auto& [field_name, capture] : settings.bind) {
    const reflection::Field* field = schema.root_field(field_name);
    if (field == nullptr) {
      problems.push_back({"bind." + field_name, fmt::format("{} has no field \"{}\" (schema {})", schema.root_name(),
                                                            field_name, schema.file().string())});
    } else if (!is_bindable(field->type()->base_type())) {
      problems.push_back({"bind." + field_name, fmt::format("field \"{}\" of {} is neither a string nor an integer",
                                                            field_name, schema.root_name())});
    }
  }
  return problems;
}

std::optional<Validator> Validator::create(std::shared_ptr<const Schema> schema, ValidatorSettings settings,
                                           std::string& error) {
  const std::string where = fmt::format("ingest {}", settings.section);
  if (schema == nullptr) {
    error = where + ": no schema";
    return std::nullopt;
  }
  if (const auto problems = settings_problems(*schema, settings); !problems.empty()) {
    error = fmt::format("{}: {}: {}", where, problems.front().key, problems.front().message);
    return std::nullopt;
  }
  Validator validator;
  for (const auto& [field_name, capture] : settings.bind) {
    validator.binds_.push_back(Bind{schema->root_field(field_name), field_name, capture});
  }
  if (settings.accept_json) {
    validator.parser_ = schema->make_json_parser(error);
    if (validator.parser_ == nullptr) {
      error = fmt::format("{}: {}", where, error);
      return std::nullopt;
    }
  }
  validator.schema_ = std::move(schema);
  validator.settings_ = std::move(settings);
  return validator;
}

Validator::Validator(Validator&&) noexcept = default;
Validator& Validator::operator=(Validator&&) noexcept = default;
Validator::~Validator() = default;

ValidationResult Validator::validate(std::span<const std::uint8_t> payload, std::string_view content_type,
                                     BindValues captures) {
  ValidationResult result;
  if (payload.size() > settings_.max_payload) {
    result.error_ = ValidationError::too_large;
    result.detail_ = fmt::format("payload of {} bytes exceeds max_payload {}", payload.size(), settings_.max_payload);
    return result;
  }

  const std::optional<PayloadFormat> declared = format_from_content_type(content_type);
  result.format_ = declared.value_or(sniff_format(payload));

  if (result.format_ == PayloadFormat::json && !settings_.accept_json) {
    if (!declared) {
      // Looks like JSON, but only the content says so: it may still be a FlatBuffer (a root offset
      // of 0x7B20 and more behind leading whitespace), so verify it as one before giving up.
      result.format_ = PayloadFormat::flatbuffers;
      validate_binary(payload, result);
      if (!result.ok()) {
        result = ValidationResult{};
        result.format_ = PayloadFormat::json;
        result.error_ = ValidationError::not_flatbuffers;
        result.detail_ = fmt::format("payload looks like JSON; ingest {} accepts only flatbuffers", settings_.section);
        return result;
      }
    } else {
      result.error_ = ValidationError::not_flatbuffers;
      result.detail_ = fmt::format("content type {} is JSON; ingest {} accepts only flatbuffers",
                                   quote(content_type), settings_.section);
      return result;
    }
  } else if (result.format_ == PayloadFormat::flatbuffers && !settings_.accept_flatbuffers) {
    result.error_ = ValidationError::bad_json;
    if (declared) {
      result.detail_ = fmt::format("content type {} is not JSON; ingest {} accepts only json", quote(content_type),
                                   settings_.section);
    } else {
      result.detail_ = payload.empty()
                           ? fmt::format("empty payload; ingest {} accepts only json", settings_.section)
                           : fmt::format("payload is not a JSON object (first byte 0x{:02x}); ingest {} accepts only json",
                                         payload[0], settings_.section);
    }
    return result;
  } else if (result.format_ == PayloadFormat::json) {
    validate_json(payload, result);
  } else {
    validate_binary(payload, result);
  }
  if (!result.ok()) return result;
  check_bind(result, captures);
  return result;
}

bool Validator::verify(const std::uint8_t* data, std::size_t size, ValidationResult& result) const {
  if (std::string problem = structural_problem(data, size); !problem.empty()) {
    result.error_ = ValidationError::not_flatbuffers;
    result.detail_ = std::move(problem);
    return false;
  }
  const std::string_view expected = schema_->file_ident();
  if (!expected.empty()) {
    const std::string_view actual(reinterpret_cast<const char*>(data) + sizeof(flatbuffers::uoffset_t),
                                  flatbuffers::kFileIdentifierLength);
    if (actual != expected) {
      result.error_ = ValidationError::schema_mismatch;
      result.detail_ = fmt::format("file identifier {} is not {} of schema {}", quote(actual), quote(expected),
                                   schema_->id());
      return false;
    }
  }
  if (!schema_->union_slots_in_bounds({data, size})) {
    result.error_ = ValidationError::schema_mismatch;
    result.detail_ = fmt::format("payload is not a valid {} (schema {}): a union field lies outside its table",
                                 schema_->root_name(), schema_->id());
    return false;
  }
  if (!flatbuffers::Verify(schema_->reflection(), schema_->root(), data, size, kMaxVerifyDepth, kMaxVerifyTables)) {
    result.error_ = ValidationError::schema_mismatch;
    result.detail_ = fmt::format("payload is not a valid {} (schema {}): FlatBuffers verification failed",
                                 schema_->root_name(), schema_->id());
    return false;
  }
  if (std::string problem = schema_->post_verify_problem({data, size}); !problem.empty()) {
    result.error_ = ValidationError::schema_mismatch;
    result.detail_ = fmt::format("payload is not a valid {} (schema {}): {}", schema_->root_name(), schema_->id(),
                                 problem);
    return false;
  }
  return true;
}

void Validator::validate_binary(std::span<const std::uint8_t> payload, ValidationResult& result) const {
  const std::uint8_t* data = payload.data();
  if (payload.size() >= 8 && reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) != 0) {
    // FlatBuffers reads scalars in place; an unaligned buffer is copied once (operator new aligns).
    result.buffer_.assign(payload.begin(), payload.end());
    result.owned_ = true;
    data = result.buffer_.data();
  }
  if (!verify(data, payload.size(), result)) {
    result.owned_ = false;
    result.buffer_.clear();
    return;
  }
  if (!result.owned_) result.view_ = payload;
}

void Validator::validate_json(std::span<const std::uint8_t> payload, ValidationResult& result) {
  const auto* text = reinterpret_cast<const char*>(payload.data());
  if (const void* nul = std::memchr(text, '\0', payload.size()); nul != nullptr) {
    result.error_ = ValidationError::bad_json;
    result.detail_ = fmt::format("invalid JSON: NUL byte at offset {}", static_cast<const char*>(nul) - text);
    return;
  }
  if (const std::size_t at = too_deep_at({text, payload.size()}); at != std::string_view::npos) {
    result.error_ = ValidationError::bad_json;
    result.detail_ = fmt::format("invalid JSON: nested deeper than {} levels at offset {}", kMaxJsonDepth, at);
    return;
  }
  json_text_.assign(text, payload.size());  // ParseJson wants a NUL-terminated string
  if (!parser_->ParseJson(json_text_.c_str())) {
    result.error_ = ValidationError::bad_json;
    result.detail_ = json_error_detail(parser_->error_);
    // flatbuffers 2.0.8's Parser keeps internal state of a JSON parse that failed inside a table
    // and never frees it: reused, it grows without bound (hundreds of MB after 10^6 bad payloads).
    // A fresh parser costs ~25 us, paid on this error path only.
    std::string error;
    if (auto fresh = schema_->make_json_parser(error); fresh != nullptr) parser_ = std::move(fresh);
    return;
  }
  const std::uint8_t* converted = parser_->builder_.GetBufferPointer();
  result.buffer_.assign(converted, converted + parser_->builder_.GetSize());
  result.owned_ = true;
  // The parser builds what the schema allows; verify anyway: the bytes go to Kafka as verified.
  if (!verify(result.buffer_.data(), result.buffer_.size(), result)) {
    result.detail_ = "JSON converted to FlatBuffers does not verify: " + result.detail_;
    result.error_ = ValidationError::schema_mismatch;
    result.owned_ = false;
    result.buffer_.clear();
  }
}

void Validator::check_bind(ValidationResult& result, BindValues captures) const {
  if (binds_.empty()) return;
  const std::span<const std::uint8_t> bytes = result.bytes();
  const flatbuffers::Table& table = *flatbuffers::GetAnyRoot(bytes.data());
  for (const Bind& bind : binds_) {
    const auto capture = std::find_if(captures.begin(), captures.end(),
                                      [&](const Capture& c) { return c.name == bind.capture; });
    std::string_view payload_value;
    std::array<char, 24> number{};
    bool present = true;
    const auto base = bind.field->type()->base_type();
    if (base == reflection::String) {
      const flatbuffers::String* value = flatbuffers::GetFieldS(table, *bind.field);
      if (value == nullptr) {
        present = false;
      } else {
        payload_value = std::string_view(value->c_str(), value->size());
      }
    } else if (base == reflection::ULong) {
      payload_value = to_text(static_cast<std::uint64_t>(flatbuffers::GetAnyFieldI(table, *bind.field)), number);
    } else {
      payload_value = to_text(flatbuffers::GetAnyFieldI(table, *bind.field), number);
    }
    if (capture == captures.end()) {
      result.error_ = ValidationError::bind_mismatch;
      result.detail_ = fmt::format("topic has no capture {{{}}} to compare with payload {}", bind.capture,
                                   bind.field_name);
    } else if (!present) {
      result.error_ = ValidationError::bind_mismatch;
      result.detail_ = fmt::format("payload has no {} (topic {} {})", bind.field_name, bind.capture,
                                   quote(capture->value));
    } else if (payload_value != capture->value) {
      result.error_ = ValidationError::bind_mismatch;
      result.detail_ = fmt::format("payload {} {} \u2260 topic {} {}", bind.field_name, quote(payload_value),
                                   bind.capture, quote(capture->value));
    } else {
      continue;
    }
    result.owned_ = false;
    result.buffer_.clear();
    result.view_ = {};
    return;
  }
}

}  // namespace archer::ingest
