#include <gtest/gtest.h>

#include <flatbuffers/flatbuffers.h>
#include <flatbuffers/reflection.h>
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "archer/ingest/schema.h"
#include "archer/ingest/validator.h"
#include "archer/schemas/telemetry_generated.h"
#include "archer/schemas/transaction_generated.h"

namespace fs = std::filesystem;
namespace tel = archer::telemetry;
using archer::PayloadFormat;
using archer::ingest::Capture;
using archer::ingest::Schema;
using archer::ingest::settings_problems;
using archer::ingest::SettingsProblem;
using archer::ingest::ValidationError;
using archer::ingest::ValidationResult;
using archer::ingest::Validator;
using archer::ingest::ValidatorSettings;

namespace {

using Bytes = std::vector<std::uint8_t>;

std::shared_ptr<const Schema> telemetry_schema() {
  static const std::shared_ptr<const Schema> schema = [] {
    auto loaded = Schema::load(fs::path(ARCHER_SCHEMA_DIR) / "telemetry.bfbs");
    EXPECT_TRUE(loaded) << loaded.error;
    return loaded.schema;
  }();
  return schema;
}

ValidatorSettings settings(bool flatbuffers = true, bool json = true, std::uint64_t max_payload = 256 * 1024) {
  ValidatorSettings s;
  s.section = "telemetry";
  s.max_payload = max_payload;
  s.accept_flatbuffers = flatbuffers;
  s.accept_json = json;
  s.bind = {{"device", "device"}};
  return s;
}

Validator make_validator(ValidatorSettings s = settings()) {
  std::string error;
  auto validator = Validator::create(telemetry_schema(), std::move(s), error);
  if (!validator) throw std::runtime_error(error);
  return std::move(*validator);
}

Bytes finish(flatbuffers::FlatBufferBuilder& fbb) { return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()}; }

Bytes env_reading(const char* device = "env-1", std::uint64_t seq = 3) {
  flatbuffers::FlatBufferBuilder fbb;
  auto reading = tel::CreateEnvironmentReadingDirect(fbb, device, seq, 1700000000000, 0, 21.5f, 40.0f, 415);
  tel::FinishTelemetryBuffer(fbb, tel::CreateTelemetryDirect(fbb, device, seq, tel::Reading::EnvironmentReading, reading.Union()));
  return finish(fbb);
}

Bytes valve_reading(const char* device = "valve-1", std::uint64_t seq = 9) {
  flatbuffers::FlatBufferBuilder fbb;
  auto reading = tel::CreateValveReadingDirect(fbb, device, seq, 0, 0, 40.0f, 60.0f, tel::ValveState::OPENING, 12.5f);
  tel::FinishTelemetryBuffer(fbb, tel::CreateTelemetryDirect(fbb, device, seq, tel::Reading::ValveReading, reading.Union()));
  return finish(fbb);
}

Bytes meter_reading(const char* device = "meter-1", std::uint64_t seq = 1) {
  flatbuffers::FlatBufferBuilder fbb;
  auto reading = tel::CreateMeterReadingDirect(fbb, device, seq, 0, 0, 12345.5, 230.0f, 229.5f);
  tel::FinishTelemetryBuffer(fbb, tel::CreateTelemetryDirect(fbb, device, seq, tel::Reading::MeterReading, reading.Union()));
  return finish(fbb);
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::vector<Capture> device(std::string_view value) { return {Capture{"device", value}}; }

std::string describe(const ValidationResult& r) { return std::string(r.code_name()) + ": " + r.detail(); }

constexpr std::string_view kEnvJson =
    R"({"device":"env-1","seq":3,"reading_type":"EnvironmentReading","reading":{"device":"env-1","seq":3,"temperature_c":21.5}})";

}  // namespace

TEST(IngestValidator, CodeNames) {
  EXPECT_EQ(archer::ingest::code_name(ValidationError::too_large), "too_large");
  EXPECT_EQ(archer::ingest::code_name(ValidationError::not_flatbuffers), "not_flatbuffers");
  EXPECT_EQ(archer::ingest::code_name(ValidationError::schema_mismatch), "schema_mismatch");
  EXPECT_EQ(archer::ingest::code_name(ValidationError::bad_json), "bad_json");
  EXPECT_EQ(archer::ingest::code_name(ValidationError::bind_mismatch), "bind_mismatch");
  EXPECT_EQ(archer::ingest::code_name(ValidationError::bad_topic), "bad_topic");
  EXPECT_EQ(archer::ingest::code_name(ValidationError::none), "");
}

TEST(IngestValidator, ValidBinaryOfEachKindIsAViewOfTheInput) {
  Validator validator = make_validator();
  const Schema& schema = *telemetry_schema();
  struct Case {
    Bytes bytes;
    const char* device;
    const char* kind;
  };
  const Case cases[] = {{env_reading(), "env-1", "EnvironmentReading"},
                        {valve_reading(), "valve-1", "ValveReading"},
                        {meter_reading(), "meter-1", "MeterReading"}};
  for (const Case& c : cases) {
    const auto captures = device(c.device);
    const ValidationResult r = validator.validate(c.bytes, "", captures);
    ASSERT_TRUE(r.ok()) << c.kind << ": " << describe(r);
    EXPECT_EQ(r.format(), PayloadFormat::flatbuffers);
    EXPECT_FALSE(r.owns_bytes());
    EXPECT_EQ(r.bytes().data(), c.bytes.data());  // no copy
    EXPECT_EQ(r.bytes().size(), c.bytes.size());
    EXPECT_EQ(schema.read_field_as_text(r.bytes(), "device"), c.device);
    EXPECT_EQ(schema.read_field_as_text(r.bytes(), "reading_type"), c.kind);
  }
}

TEST(IngestValidator, MisalignedBinaryIsCopiedOnceAndAccepted) {
  Validator validator = make_validator();
  const Bytes good = env_reading();
  Bytes shifted(good.size() + 1);
  std::memcpy(shifted.data() + 1, good.data(), good.size());
  const std::span<const std::uint8_t> payload(shifted.data() + 1, good.size());
  const auto captures = device("env-1");
  const ValidationResult r = validator.validate(payload, "", captures);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_TRUE(r.owns_bytes());
  EXPECT_TRUE(std::equal(r.bytes().begin(), r.bytes().end(), good.begin(), good.end()));
  // A copy of the result keeps valid bytes of its own.
  const ValidationResult copy = r;
  EXPECT_TRUE(std::equal(copy.bytes().begin(), copy.bytes().end(), good.begin(), good.end()));
  EXPECT_NE(copy.bytes().data(), r.bytes().data());
}

TEST(IngestValidator, TooLargeIsCheckedFirst) {
  Validator validator = make_validator(settings(true, true, 16));
  const Bytes garbage(17, 0xAB);
  const ValidationResult r = validator.validate(garbage, "application/json", {});
  EXPECT_EQ(r.error(), ValidationError::too_large) << describe(r);
  EXPECT_EQ(r.code_name(), "too_large");
  EXPECT_NE(r.detail().find("17 bytes"), std::string::npos) << r.detail();
  EXPECT_NE(r.detail().find("16"), std::string::npos) << r.detail();
  EXPECT_TRUE(r.bytes().empty());
  // Exactly max_payload is not too large (it is garbage, though).
  const Bytes sixteen(16, 0xAB);
  EXPECT_EQ(validator.validate(sixteen, "", {}).error(), ValidationError::not_flatbuffers);
}

TEST(IngestValidator, RandomBytesAreNotFlatbuffers) {
  Validator validator = make_validator();
  std::mt19937 random(42);
  int not_flatbuffers = 0;
  for (int i = 0; i < 2000; ++i) {
    Bytes bytes(random() % 200);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(random());
    if (!bytes.empty() && bytes[0] == '{') bytes[0] = 0;
    const ValidationResult r = validator.validate(bytes, "", device("env-1"));
    ASSERT_FALSE(r.ok()) << "random buffer " << i << " accepted";
    ASSERT_TRUE(r.error() == ValidationError::not_flatbuffers || r.error() == ValidationError::schema_mismatch)
        << describe(r);
    not_flatbuffers += r.error() == ValidationError::not_flatbuffers;
  }
  EXPECT_GT(not_flatbuffers, 1900);
  const ValidationResult empty = validator.validate({}, "", {});
  EXPECT_EQ(empty.error(), ValidationError::not_flatbuffers) << describe(empty);
  EXPECT_NE(empty.detail().find("too short"), std::string::npos) << empty.detail();
}

TEST(IngestValidator, TruncatedBuffersAreRejected) {
  Validator validator = make_validator();
  const Bytes good = env_reading();
  for (std::size_t size = 0; size < good.size(); ++size) {
    const Bytes truncated(good.begin(), good.begin() + static_cast<long>(size));
    const ValidationResult r = validator.validate(truncated, "", device("env-1"));
    if (r.ok()) {
      // Only trailing alignment padding was cut: the buffer is still whole.
      EXPECT_GE(size + 4, good.size()) << "truncated to " << size << " accepted";
      flatbuffers::Verifier verifier(truncated.data(), truncated.size());
      EXPECT_TRUE(tel::VerifyTelemetryBuffer(verifier)) << size;
      continue;
    }
    if (size < 8) {
      EXPECT_EQ(r.error(), ValidationError::not_flatbuffers) << size << ": " << describe(r);
    } else {
      EXPECT_TRUE(r.error() == ValidationError::not_flatbuffers || r.error() == ValidationError::schema_mismatch)
          << size << ": " << describe(r);
    }
  }
}

TEST(IngestValidator, BufferOfAnotherSchemaIsASchemaMismatch) {
  Validator validator = make_validator();
  flatbuffers::FlatBufferBuilder fbb;
  archer::transaction::FinishTransactionBuffer(
      fbb, archer::transaction::CreateTransactionDirect(fbb, "ia-1", "cmd-1", "env-1", archer::transaction::Phase::SENT, 1));
  const Bytes transaction = finish(fbb);
  const ValidationResult r = validator.validate(transaction, "application/x-flatbuffers", device("env-1"));
  EXPECT_EQ(r.error(), ValidationError::schema_mismatch) << describe(r);
  EXPECT_NE(r.detail().find("\"ATRX\""), std::string::npos) << r.detail();
  EXPECT_NE(r.detail().find("\"ATEL\""), std::string::npos) << r.detail();

  // A telemetry buffer without its file identifier is refused too.
  flatbuffers::FlatBufferBuilder plain;
  plain.Finish(tel::CreateTelemetryDirect(plain, "env-1", 1));
  EXPECT_EQ(validator.validate(finish(plain), "", device("env-1")).error(), ValidationError::schema_mismatch);
}

TEST(IngestValidator, CorruptedOffsetIsASchemaMismatch) {
  Validator validator = make_validator();
  Bytes bytes = env_reading();
  // Point the root's `device` string offset past the end of the buffer.
  const Schema& schema = *telemetry_schema();
  const auto* table = flatbuffers::GetAnyRoot(bytes.data());
  const std::uint8_t* field = table->GetAddressOf(schema.root_field("device")->offset());
  ASSERT_NE(field, nullptr);
  const auto at = static_cast<std::size_t>(field - bytes.data());
  const flatbuffers::uoffset_t huge = 0x7ffffff0;
  std::memcpy(bytes.data() + at, &huge, sizeof huge);
  const ValidationResult r = validator.validate(bytes, "", device("env-1"));
  EXPECT_EQ(r.error(), ValidationError::schema_mismatch) << describe(r);
  EXPECT_NE(r.detail().find("archer.telemetry.Telemetry"), std::string::npos) << r.detail();
  EXPECT_NE(r.detail().find(schema.id()), std::string::npos) << r.detail();
}

TEST(IngestValidator, UnionOffsetOutsideItsTableIsRejectedBeforeVerify) {
  // Found by tests/fuzz: the vtable gives `reading` the slot 0xf10c, far outside the 24-byte table
  // and the buffer; flatbuffers::Verify (2.0.8) reads the union's offset there without a bounds check.
  const Bytes crash = {0x18, 0x00, 0x00, 0x00, 'A',  'T',  'E',  'L',  0x00, 0x00, 0x00, 0x00, 0x0c,
                       0x00, 0x18, 0x00, 0x08, 0x00, 0x10, 0x00, 0x07, 0x00, 0x0c, 0xf1, 0x0c, 0x00,
                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                       0x00, 'e',  'n',  'v',  '-',  '1',  0x00, 0x12, 0x00, 0x28, 0x00, 0x08, 0x00};
  Validator validator = make_validator();
  const ValidationResult r = validator.validate(crash, "", device("env-1"));
  EXPECT_EQ(r.error(), ValidationError::schema_mismatch) << describe(r);
  EXPECT_NE(r.detail().find("union"), std::string::npos) << r.detail();
  // A union slot inside the table but pointing anywhere is left to Verify, which checks it.
  Bytes bytes = env_reading();
  const auto* table = flatbuffers::GetAnyRoot(bytes.data());
  const std::uint8_t* field = table->GetAddressOf(telemetry_schema()->root_field("reading")->offset());
  ASSERT_NE(field, nullptr);
  const flatbuffers::uoffset_t huge = 0x7ffffff0;
  std::memcpy(bytes.data() + (field - bytes.data()), &huge, sizeof huge);
  EXPECT_EQ(validator.validate(bytes, "", device("env-1")).error(), ValidationError::schema_mismatch);

  // Found by tests/fuzz too: type NONE with a dangling `reading` offset. Verify skips the offset
  // when the type is NONE; the generated verifier rejects the buffer, so the validator must as well.
  const Bytes dangling = {0x18, 0, 0, 0, 'A', 'T', 'E', 'L', 0, 0, 0, 0, 0x0c, 0, 0x18, 0, 0x08, 0, 0x10, 0,
                          0x07, 0, 0x0c, 0, 0x0c, 0, 0, 0, 0, 0x01, 0, 0, 0x10, 0, 0, 0, 0x28, 0, 0, 0,
                          0x03, 0, 0, 0, 0, 0, 0, 0, 0x05, 0, 0, 0, 'e', 'n', 'v', '-', '1', 0, 0x12, 0,
                          0x28, 0, 0x08, 0, 0x14, 0, 0x1c, 0, 0, 0, 0x0c, 0, 0x10, 0, 0, 0};
  flatbuffers::Verifier verifier(dangling.data(), dangling.size());
  ASSERT_FALSE(tel::VerifyTelemetryBuffer(verifier));
  const ValidationResult none = validator.validate(dangling, "", device("env-1"));
  EXPECT_EQ(none.error(), ValidationError::schema_mismatch) << describe(none);
}

TEST(IngestValidator, SelfPointingOffsetIsRejectedLikeGeneratedVerifiers) {
  // Found by tests/fuzz: the union member's `device` offset is 0 (pointing at itself, reading as an
  // empty string). flatbuffers::Verify (2.0.8) accepts it; generated verifiers do not.
  const Bytes zero = {0x18, 0x00, 0x00, 0x00, 0x41, 0x54, 0x45, 0x4c, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x18,
                          0x00, 0x08, 0x00, 0x10, 0x00, 0x07, 0x00, 0x0c, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x00, 0x01, 0x10, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
                          0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x65, 0x6e, 0x76, 0x2d, 0x31, 0x00, 0x12, 0x00,
                          0x28, 0x00, 0x08, 0x00, 0x14, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x10, 0x00, 0x06,
                          0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x9f, 0x01, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0xac,
                          0x41, 0x00, 0x00, 0x20, 0x42, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x68,
                          0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x65,
                          0x6e, 0x76, 0x2d, 0x30, 0x00, 0x00, 0x00};
  flatbuffers::Verifier verifier(zero.data(), zero.size());
  ASSERT_FALSE(tel::VerifyTelemetryBuffer(verifier));
  Validator validator = make_validator();
  const ValidationResult r = validator.validate(zero, "", device("env-1"));
  EXPECT_EQ(r.error(), ValidationError::schema_mismatch) << describe(r);
  EXPECT_NE(r.detail().find("field archer.telemetry.EnvironmentReading.device has the invalid offset 0"),
            std::string::npos)
      << r.detail();
}

TEST(IngestValidator, MissingRequiredFieldIsRejected) {
  Validator validator = make_validator();
  flatbuffers::FlatBufferBuilder fbb;
  const auto start = fbb.StartTable();
  fbb.AddElement<std::uint64_t>(tel::Telemetry::VT_SEQ, 5, 0);
  fbb.Finish(flatbuffers::Offset<tel::Telemetry>(fbb.EndTable(start)), tel::TelemetryIdentifier());
  const ValidationResult r = validator.validate(finish(fbb), "", device("env-1"));
  // flatbuffers::Verify (reflection) does not check `required`; the validator does, before bind.
  EXPECT_EQ(r.error(), ValidationError::schema_mismatch) << describe(r);
  EXPECT_NE(r.detail().find("required field archer.telemetry.Telemetry.device is missing"), std::string::npos)
      << r.detail();

  // The same inside a union member: an EnvironmentReading without its device.
  flatbuffers::FlatBufferBuilder nested;
  const auto reading_start = nested.StartTable();
  nested.AddElement<std::uint64_t>(tel::EnvironmentReading::VT_SEQ, 5, 0);
  const flatbuffers::Offset<void> reading(nested.EndTable(reading_start));
  tel::FinishTelemetryBuffer(nested, tel::CreateTelemetryDirect(nested, "env-1", 5, tel::Reading::EnvironmentReading, reading));
  const ValidationResult inner = validator.validate(finish(nested), "", device("env-1"));
  EXPECT_EQ(inner.error(), ValidationError::schema_mismatch) << describe(inner);
  EXPECT_NE(inner.detail().find("archer.telemetry.EnvironmentReading.device"), std::string::npos) << inner.detail();
}

TEST(IngestValidator, ValidJsonIsConverted) {
  Validator validator = make_validator();
  const ValidationResult r = validator.validate(as_bytes(kEnvJson), "", device("env-1"));
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.format(), PayloadFormat::json);
  EXPECT_TRUE(r.owns_bytes());
  ASSERT_TRUE(flatbuffers::BufferHasIdentifier(r.bytes().data(), "ATEL"));
  flatbuffers::Verifier verifier(r.bytes().data(), r.bytes().size());
  ASSERT_TRUE(tel::VerifyTelemetryBuffer(verifier));
  const tel::Telemetry* telemetry = tel::GetTelemetry(r.bytes().data());
  EXPECT_EQ(telemetry->device()->str(), "env-1");
  EXPECT_EQ(telemetry->seq(), 3u);
  ASSERT_EQ(telemetry->reading_type(), tel::Reading::EnvironmentReading);
  EXPECT_FLOAT_EQ(telemetry->reading_as_EnvironmentReading()->temperature_c(), 21.5f);

  // Whitespace before the object, a UTF-8 BOM and the union type after its value are fine too.
  const std::string spaced = "\xEF\xBB\xBF \n\t" + std::string(kEnvJson);
  EXPECT_TRUE(validator.validate(as_bytes(spaced), "", device("env-1")).ok());
  const std::string_view type_after =
      R"({"device":"env-1","reading":{"device":"env-1","flow_lpm":3.5},"reading_type":"ValveReading"})";
  const ValidationResult after = validator.validate(as_bytes(type_after), "", device("env-1"));
  ASSERT_TRUE(after.ok()) << describe(after);
  EXPECT_EQ(tel::GetTelemetry(after.bytes().data())->reading_type(), tel::Reading::ValveReading);
}

TEST(IngestValidator, BadJsonSaysWhere) {
  Validator validator = make_validator();
  const std::string_view text = "{\"device\":\"env-1\",\n  \"seq\": oops}";
  const ValidationResult r = validator.validate(as_bytes(text), "", device("env-1"));
  EXPECT_EQ(r.error(), ValidationError::bad_json) << describe(r);
  EXPECT_EQ(r.format(), PayloadFormat::json);
  EXPECT_NE(r.detail().find("line 2, column"), std::string::npos) << r.detail();
  EXPECT_TRUE(r.bytes().empty());

  const ValidationResult truncated = validator.validate(as_bytes(kEnvJson.substr(0, 30)), "", device("env-1"));
  EXPECT_EQ(truncated.error(), ValidationError::bad_json) << describe(truncated);
  EXPECT_NE(truncated.detail().find("line 1, column"), std::string::npos) << truncated.detail();
}

TEST(IngestValidator, JsonAgainstTheSchemaIsChecked) {
  Validator validator = make_validator();
  const auto captures = device("env-1");
  struct Case {
    std::string_view json;
    std::string_view expect;  // in the detail
  };
  const Case cases[] = {
      {R"({"device":"env-1","reading_type":"Thermometer","reading":{"device":"env-1"}})", "Thermometer"},
      {R"({"device":"env-1","colour":"red"})", "unknown field: colour"},
      {R"({"seq":3})", "required field is missing: device"},
      {R"({"device":"env-1","seq":-1})", "-1"},
      {R"({device:"env-1"})", "line 1, column"},
      {R"({"device":"env-1"} trailing)", "trailing"},
      {"{\"device\":\"\xff\"}", "UTF-8"},
  };
  for (const Case& c : cases) {
    const ValidationResult r = validator.validate(as_bytes(c.json), "", captures);
    EXPECT_EQ(r.error(), ValidationError::bad_json) << c.json << " -> " << describe(r);
    EXPECT_NE(r.detail().find(c.expect), std::string::npos) << c.json << " -> " << r.detail();
  }
  const std::string with_nul = std::string(R"({"device":"env-1"})") + '\0' + "junk";
  const ValidationResult nul = validator.validate(as_bytes(with_nul), "", captures);
  EXPECT_EQ(nul.error(), ValidationError::bad_json) << describe(nul);
  EXPECT_NE(nul.detail().find("NUL byte at offset 18"), std::string::npos) << nul.detail();
}

TEST(IngestValidator, ParserIsReusableAfterErrors) {
  Validator reused = make_validator();
  Validator fresh = make_validator();
  const ValidationResult expected = fresh.validate(as_bytes(kEnvJson), "", device("env-1"));
  ASSERT_TRUE(expected.ok()) << describe(expected);
  const std::string_view bad[] = {R"({"device":"env-1","seq":{"a":{"b":[1,2]}}})", "{", std::string_view("{{{{{{{{{{{{"),
                                  R"({"device":"env-1","reading_type":"MeterReading","reading":{"energy_wh":"x"}})"};
  for (int round = 0; round < 3; ++round) {
    for (std::string_view b : bad) EXPECT_FALSE(reused.validate(as_bytes(b), "", device("env-1")).ok());
    const ValidationResult r = reused.validate(as_bytes(kEnvJson), "", device("env-1"));
    ASSERT_TRUE(r.ok()) << describe(r);
    EXPECT_TRUE(std::equal(r.bytes().begin(), r.bytes().end(), expected.bytes().begin(), expected.bytes().end()));
  }
}

TEST(IngestValidator, BindMismatch) {
  Validator validator = make_validator();
  const Bytes bytes = env_reading("x");
  const ValidationResult r = validator.validate(bytes, "", device("y"));
  EXPECT_EQ(r.error(), ValidationError::bind_mismatch) << describe(r);
  EXPECT_EQ(r.detail(), "payload device \"x\" \u2260 topic device \"y\"");
  EXPECT_TRUE(r.bytes().empty());

  // The same for JSON.
  const ValidationResult json = validator.validate(as_bytes(kEnvJson), "application/json", device("env-2"));
  EXPECT_EQ(json.error(), ValidationError::bind_mismatch) << describe(json);
  EXPECT_EQ(json.detail(), "payload device \"env-1\" \u2260 topic device \"env-2\"");

  // A topic without the capture.
  const ValidationResult none = validator.validate(bytes, "", {});
  EXPECT_EQ(none.error(), ValidationError::bind_mismatch) << describe(none);
  EXPECT_NE(none.detail().find("{device}"), std::string::npos) << none.detail();

  // Odd bytes in a device id are escaped in the detail.
  const ValidationResult odd = validator.validate(env_reading("a\"b\n\xff"), "", device("y"));
  EXPECT_EQ(odd.detail(), "payload device \"a\\\"b\\x0a\\xff\" \u2260 topic device \"y\"");
}

TEST(IngestValidator, BindIntegerFieldByDecimalText) {
  ValidatorSettings s = settings();
  s.bind = {{"device", "device"}, {"seq", "n"}};
  Validator validator = make_validator(s);
  const Bytes bytes = env_reading("env-1", 42);
  const std::vector<Capture> good = {{"device", "env-1"}, {"n", "42"}};
  EXPECT_TRUE(validator.validate(bytes, "", good).ok());
  const std::vector<Capture> padded = {{"device", "env-1"}, {"n", "042"}};
  const ValidationResult r = validator.validate(bytes, "", padded);
  EXPECT_EQ(r.error(), ValidationError::bind_mismatch) << describe(r);
  EXPECT_EQ(r.detail(), "payload seq \"42\" \u2260 topic n \"042\"");
  // An absent integer is its default (0).
  flatbuffers::FlatBufferBuilder fbb;
  tel::FinishTelemetryBuffer(fbb, tel::CreateTelemetryDirect(fbb, "env-1"));
  const std::vector<Capture> zero = {{"device", "env-1"}, {"n", "0"}};
  EXPECT_TRUE(validator.validate(finish(fbb), "", zero).ok());
}

TEST(IngestValidator, CreateChecksSettingsAgainstTheSchema) {
  std::string error;
  ValidatorSettings unknown = settings();
  unknown.bind = {{"serial", "device"}};
  EXPECT_FALSE(Validator::create(telemetry_schema(), unknown, error));
  EXPECT_NE(error.find("ingest telemetry: bind"), std::string::npos) << error;
  EXPECT_NE(error.find("serial"), std::string::npos) << error;

  ValidatorSettings union_field = settings();
  union_field.bind = {{"reading", "device"}};
  EXPECT_FALSE(Validator::create(telemetry_schema(), union_field, error));
  EXPECT_NE(error.find("neither a string nor an integer"), std::string::npos) << error;

  EXPECT_FALSE(Validator::create(telemetry_schema(), settings(false, false), error));
  EXPECT_FALSE(Validator::create(nullptr, settings(), error));
}

TEST(IngestValidator, SettingsProblemsListEveryUnfitSettingByKey) {
  const auto schema = telemetry_schema();
  ValidatorSettings unfit = settings(false, false);
  unfit.bind = {{"device", "device"}, {"serial", "device"}, {"reading", "device"}};
  const std::vector<SettingsProblem> problems = settings_problems(*schema, unfit);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].key, "formats");
  EXPECT_EQ(problems[0].message, "accepts neither flatbuffers nor json");
  EXPECT_EQ(problems[1].key, "bind.serial");
  EXPECT_EQ(problems[1].message,
            "archer.telemetry.Telemetry has no field \"serial\" (schema " + schema->file().string() + ")");
  EXPECT_EQ(problems[2].key, "bind.reading");
  EXPECT_EQ(problems[2].message, "field \"reading\" of archer.telemetry.Telemetry is neither a string nor an integer");
  EXPECT_TRUE(settings_problems(*schema, settings()).empty());

  // Validator::create refuses the settings for the first problem.
  std::string error;
  EXPECT_FALSE(Validator::create(schema, unfit, error));
  EXPECT_EQ(error, "ingest telemetry: formats: accepts neither flatbuffers nor json");
}

TEST(IngestValidator, SettingsFromIngestSection) {
  archer::IngestSection section;
  section.name = "telemetry";
  section.formats = {PayloadFormat::flatbuffers, PayloadFormat::json};
  section.bind = {{"device", "device"}};
  section.max_payload = 1234;
  const ValidatorSettings s = ValidatorSettings::from(section);
  EXPECT_EQ(s.section, "telemetry");
  EXPECT_EQ(s.max_payload, 1234u);
  EXPECT_TRUE(s.accept_flatbuffers);
  EXPECT_TRUE(s.accept_json);
  ASSERT_EQ(s.bind.size(), 1u);
  EXPECT_EQ(s.bind[0].first, "device");
}

TEST(IngestFormat, ContentTypes) {
  using archer::ingest::format_from_content_type;
  EXPECT_EQ(format_from_content_type("application/json"), PayloadFormat::json);
  EXPECT_EQ(format_from_content_type("Application/JSON; charset=utf-8"), PayloadFormat::json);
  EXPECT_EQ(format_from_content_type("text/json"), PayloadFormat::json);
  EXPECT_EQ(format_from_content_type("application/vnd.archer.telemetry+json"), PayloadFormat::json);
  EXPECT_EQ(format_from_content_type(" application/x-flatbuffers "), PayloadFormat::flatbuffers);
  EXPECT_EQ(format_from_content_type("application/flatbuffers"), PayloadFormat::flatbuffers);
  EXPECT_EQ(format_from_content_type("application/octet-stream"), PayloadFormat::flatbuffers);
  EXPECT_EQ(format_from_content_type(""), std::nullopt);
  EXPECT_EQ(format_from_content_type("text/plain"), std::nullopt);
  EXPECT_EQ(format_from_content_type("application/jsonx"), std::nullopt);

  using archer::ingest::sniff_format;
  EXPECT_EQ(sniff_format(as_bytes("{}")), PayloadFormat::json);
  EXPECT_EQ(sniff_format(as_bytes(" \r\n\t{")), PayloadFormat::json);
  EXPECT_EQ(sniff_format(as_bytes("[1]")), PayloadFormat::flatbuffers);
  EXPECT_EQ(sniff_format(as_bytes("")), PayloadFormat::flatbuffers);
  EXPECT_EQ(sniff_format(env_reading()), PayloadFormat::flatbuffers);
}

TEST(IngestFormat, ContentTypeDecidesOverContent) {
  Validator validator = make_validator();
  const auto captures = device("env-1");
  // Declared JSON, binary content: parsed as JSON and refused as such.
  const ValidationResult binary_as_json = validator.validate(env_reading(), "application/json", captures);
  EXPECT_EQ(binary_as_json.error(), ValidationError::bad_json) << describe(binary_as_json);
  EXPECT_EQ(binary_as_json.format(), PayloadFormat::json);
  // Declared FlatBuffers, JSON content: verified as a FlatBuffer and refused.
  const ValidationResult json_as_binary = validator.validate(as_bytes(kEnvJson), "application/octet-stream", captures);
  EXPECT_EQ(json_as_binary.error(), ValidationError::not_flatbuffers) << describe(json_as_binary);
  EXPECT_EQ(json_as_binary.format(), PayloadFormat::flatbuffers);
  // An unknown content type leaves it to the content.
  EXPECT_TRUE(validator.validate(as_bytes(kEnvJson), "text/plain", captures).ok());
  EXPECT_TRUE(validator.validate(env_reading(), "text/plain", captures).ok());
  EXPECT_TRUE(validator.validate(as_bytes(kEnvJson), "application/vnd.x+json", captures).ok());
}

TEST(IngestFormat, FormatsTheSectionDoesNotAccept) {
  const auto captures = device("env-1");
  Validator binary_only = make_validator(settings(true, false));
  const ValidationResult sniffed = binary_only.validate(as_bytes(kEnvJson), "", captures);
  EXPECT_EQ(sniffed.error(), ValidationError::not_flatbuffers) << describe(sniffed);
  EXPECT_NE(sniffed.detail().find("accepts only flatbuffers"), std::string::npos) << sniffed.detail();
  const ValidationResult declared = binary_only.validate(as_bytes(kEnvJson), "application/json", captures);
  EXPECT_EQ(declared.error(), ValidationError::not_flatbuffers) << describe(declared);
  EXPECT_NE(declared.detail().find("\"application/json\""), std::string::npos) << declared.detail();
  EXPECT_TRUE(binary_only.validate(env_reading(), "", captures).ok());

  Validator json_only = make_validator(settings(false, true));
  const ValidationResult binary = json_only.validate(env_reading(), "", captures);
  EXPECT_EQ(binary.error(), ValidationError::bad_json) << describe(binary);
  EXPECT_NE(binary.detail().find("accepts only json"), std::string::npos) << binary.detail();
  EXPECT_NE(binary.detail().find("first byte 0x"), std::string::npos) << binary.detail();
  const ValidationResult declared_binary = json_only.validate(env_reading(), "application/x-flatbuffers", captures);
  EXPECT_EQ(declared_binary.error(), ValidationError::bad_json) << describe(declared_binary);
  EXPECT_TRUE(json_only.validate(as_bytes(kEnvJson), "", captures).ok());
}

// A schema the project does not ship: compiled by flatc at test time, loaded, and used for binary
// (made by flatc from JSON, independently of our parser) and JSON payloads.
TEST(IngestCustomSchema, CompiledAtTestTime) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::temp_directory_path() / ("archer-ingest-" + std::to_string(::getpid()) + "-" + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream(dir / "pump.fbs") << "namespace acme;\n"
                                       "enum Mode : ubyte { OFF, ON }\n"
                                       "table Pump { site: string; unit: int; mode: Mode; rpm: float; }\n"
                                       "root_type Pump;\n";
    std::ofstream(dir / "sample.json") << R"({"site":"north","unit":-7,"mode":"ON","rpm":1450.0})";
  }
  const std::string flatc = FLATC;
  const std::string command = "cd '" + dir.string() + "' && '" + flatc + "' -b --schema pump.fbs && '" + flatc +
                              "' -b pump.fbs sample.json";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  auto loaded = Schema::load(dir / "pump.bfbs");
  ASSERT_TRUE(loaded) << loaded.error;
  EXPECT_EQ(loaded.schema->file_ident(), "");  // the schema declares none: not checked
  EXPECT_EQ(loaded.schema->root_name(), "acme.Pump");
  EXPECT_EQ(loaded.schema->id().substr(0, 5), "pump@");

  ValidatorSettings s;
  s.section = "pumps";
  s.accept_json = true;
  s.bind = {{"site", "site"}, {"unit", "unit"}};
  std::string error;
  auto validator = Validator::create(loaded.schema, s, error);
  ASSERT_TRUE(validator) << error;

  std::ifstream in(dir / "sample.bin", std::ios::binary);
  const Bytes binary{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  ASSERT_FALSE(binary.empty());
  const std::vector<Capture> captures = {{"site", "north"}, {"unit", "-7"}};
  const ValidationResult r = validator->validate(binary, "", captures);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(loaded.schema->read_field_as_text(r.bytes(), "mode"), "ON");
  EXPECT_EQ(loaded.schema->read_field_as_text(r.bytes(), "rpm"), "1450");

  const ValidationResult json =
      validator->validate(as_bytes(R"({"site":"north","unit":-7,"mode":"OFF"})"), "", captures);
  ASSERT_TRUE(json.ok()) << describe(json);
  EXPECT_EQ(loaded.schema->read_field_as_text(json.bytes(), "mode"), "OFF");
  EXPECT_EQ(validator->validate(as_bytes(R"({"site":"north","unit":-7,"mode":"MAYBE"})"), "", captures).error(),
            ValidationError::bad_json);

  // An optional bind field that is absent is a bind mismatch.
  const ValidationResult missing = validator->validate(as_bytes(R"({"unit":-7})"), "", captures);
  EXPECT_EQ(missing.error(), ValidationError::bind_mismatch) << describe(missing);
  EXPECT_EQ(missing.detail(), "payload has no site (topic site \"north\")");

  // Without a file_identifier only the structure tells schemas apart: a Telemetry buffer happens to
  // verify as a Pump (string, 8-byte int, ubyte, offset fit string, int, ubyte, float); bind stops it.
  const ValidationResult other = validator->validate(env_reading(), "", captures);
  EXPECT_EQ(other.error(), ValidationError::bind_mismatch) << describe(other);
  fs::remove_all(dir);
}

TEST(IngestValidator, JsonNestingIsLimited) {
  Validator validator = make_validator(settings(false, true));
  const std::string prefix = R"({"device":)";
  auto nested = [&](std::size_t arrays) { return prefix + std::string(arrays, '[') + std::string(arrays, ']') + "}"; };
  const ValidationResult deep =
      validator.validate(as_bytes(nested(archer::ingest::kMaxJsonDepth)), "", device("env-1"));
  EXPECT_EQ(deep.error(), ValidationError::bad_json) << describe(deep);
  EXPECT_EQ(deep.detail(), fmt::format("invalid JSON: nested deeper than 16 levels at offset {}", prefix.size() + 15));
  // One level less is parsed (and refused by the schema: device is a string).
  const ValidationResult parsed = validator.validate(as_bytes(nested(15)), "", device("env-1"));
  EXPECT_EQ(parsed.error(), ValidationError::bad_json) << describe(parsed);
  EXPECT_EQ(parsed.detail().find("nested deeper"), std::string::npos) << parsed.detail();
  // Brackets inside strings, escaped quotes included, are text.
  const std::string value = "env-1\"" + std::string(20, '[');
  const std::string in_string = R"({"device":"env-1\")" + std::string(20, '[') + R"(","seq":1})";
  const ValidationResult text = validator.validate(as_bytes(in_string), "", device(value));
  EXPECT_TRUE(text.ok()) << describe(text);
}

// Verify's depth and table limits (kMaxVerifyDepth, kMaxVerifyTables), on a schema that can nest.
TEST(IngestCustomSchema, VerificationIsLimitedInDepthAndTables) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::temp_directory_path() / ("archer-ingest-" + std::to_string(::getpid()) + "-" + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "node.fbs") << "namespace acme;\n"
                                     "table Node { name: string; child: Node; items: [Node]; }\n"
                                     "root_type Node;\n";
  const std::string command = "cd '" + dir.string() + "' && '" + std::string(FLATC) + "' -b --schema node.fbs";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  auto loaded = Schema::load(dir / "node.bfbs");
  ASSERT_TRUE(loaded) << loaded.error;
  ValidatorSettings s;
  s.section = "nodes";
  std::string error;
  auto validator = Validator::create(loaded.schema, s, error);
  ASSERT_TRUE(validator) << error;
  constexpr flatbuffers::voffset_t kChild = 6, kItems = 8;  // the vtable slots of fields 1 and 2

  auto chain = [](std::size_t tables) {
    flatbuffers::FlatBufferBuilder fbb;
    flatbuffers::uoffset_t child = 0;
    for (std::size_t i = 0; i < tables; ++i) {
      const auto start = fbb.StartTable();
      if (child != 0) fbb.AddOffset(kChild, flatbuffers::Offset<void>(child));
      child = fbb.EndTable(start);
    }
    fbb.Finish(flatbuffers::Offset<void>(child));
    return finish(fbb);
  };
  EXPECT_TRUE(validator->validate(chain(archer::ingest::kMaxVerifyDepth), "", {}).ok());
  const ValidationResult deep = validator->validate(chain(archer::ingest::kMaxVerifyDepth + 1), "", {});
  EXPECT_EQ(deep.error(), ValidationError::schema_mismatch) << describe(deep);
  EXPECT_NE(deep.detail().find("FlatBuffers verification failed"), std::string::npos) << deep.detail();

  // One leaf that every element of the root's vector points at: each counts.
  auto fan_out = [](std::size_t elements) {
    flatbuffers::FlatBufferBuilder fbb;
    const auto leaf = fbb.EndTable(fbb.StartTable());
    const std::vector<flatbuffers::Offset<void>> items(elements, flatbuffers::Offset<void>(leaf));
    const auto vector = fbb.CreateVector(items);
    const auto start = fbb.StartTable();
    fbb.AddOffset(kItems, vector);
    fbb.Finish(flatbuffers::Offset<void>(fbb.EndTable(start)));
    return finish(fbb);
  };
  EXPECT_TRUE(validator->validate(fan_out(archer::ingest::kMaxVerifyTables - 1), "", {}).ok());
  const ValidationResult many = validator->validate(fan_out(archer::ingest::kMaxVerifyTables), "", {});
  EXPECT_EQ(many.error(), ValidationError::schema_mismatch) << describe(many);
  EXPECT_NE(many.detail().find("FlatBuffers verification failed"), std::string::npos) << many.detail();
  fs::remove_all(dir);
}
