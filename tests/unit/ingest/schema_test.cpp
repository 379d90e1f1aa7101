#include <gtest/gtest.h>

#include <flatbuffers/idl.h>
#include <fmt/format.h>
#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "archer/ingest/schema.h"
#include "archer/ingest/validator.h"
#include "archer/schemas/telemetry_generated.h"

namespace fs = std::filesystem;
using archer::ingest::Schema;

namespace {

fs::path schema_path(const char* name) { return fs::path(ARCHER_SCHEMA_DIR) / (std::string(name) + ".bfbs"); }

std::vector<std::uint8_t> read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void write_file(const fs::path& file, const std::vector<std::uint8_t>& bytes) {
  write_file(file, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("archer-ingest-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::uint8_t> env_reading(const char* device, std::uint64_t seq) {
  flatbuffers::FlatBufferBuilder fbb;
  auto reading = archer::telemetry::CreateEnvironmentReadingDirect(fbb, device, seq, 0, 0, 21.5f, 40.0f, 415);
  auto root = archer::telemetry::CreateTelemetryDirect(fbb, device, seq, archer::telemetry::Reading::EnvironmentReading,
                                                       reading.Union());
  archer::telemetry::FinishTelemetryBuffer(fbb, root);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

}  // namespace

TEST(IngestSchema, LoadsTelemetryWithIdAndIdentifier) {
  auto loaded = Schema::load(schema_path("telemetry"));
  ASSERT_TRUE(loaded) << loaded.error;
  const Schema& schema = *loaded.schema;
  EXPECT_EQ(schema.name(), "telemetry");
  ASSERT_EQ(schema.id().size(), std::string_view("telemetry@").size() + 12) << schema.id();
  EXPECT_TRUE(schema.id().starts_with("telemetry@")) << schema.id();
  EXPECT_EQ(schema.id().find_first_not_of("0123456789abcdef", 10), std::string::npos) << schema.id();
  EXPECT_EQ(schema.file_ident(), "ATEL");
  EXPECT_EQ(schema.root_name(), "archer.telemetry.Telemetry");
  EXPECT_NE(schema.root_field("device"), nullptr);
  EXPECT_EQ(schema.root_field("nope"), nullptr);
  EXPECT_EQ(schema.bytes().size(), fs::file_size(schema_path("telemetry")));

  // The id is a content hash: same bytes, same id, whatever the directory; other bytes, other id.
  auto again = Schema::from_bytes(read_file(schema_path("telemetry")), "/elsewhere/telemetry.bfbs");
  ASSERT_TRUE(again) << again.error;
  EXPECT_EQ(again.schema->id(), schema.id());
  auto other = Schema::load(schema_path("transaction"));
  ASSERT_TRUE(other) << other.error;
  EXPECT_EQ(other.schema->id().substr(0, 12), "transaction@");
  EXPECT_NE(other.schema->id().substr(12), schema.id().substr(10));
  EXPECT_EQ(other.schema->file_ident(), "ATRX");
}

TEST(IngestSchema, IdIsTheSha256PrefixOfTheFile) {
  const fs::path file = schema_path("telemetry");
  const std::vector<std::uint8_t> bytes = read_file(file);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  ASSERT_EQ(EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr), 1);
  std::string hex;
  for (unsigned int i = 0; i < 6; ++i) hex += fmt::format("{:02x}", digest[i]);
  auto loaded = Schema::load(file);
  ASSERT_TRUE(loaded) << loaded.error;
  EXPECT_EQ(loaded.schema->id(), "telemetry@" + hex);
}

TEST(IngestSchema, MissingFileIsAnErrorNamingIt) {
  auto loaded = Schema::load("/nonexistent/dir/telemetry.bfbs");
  EXPECT_FALSE(loaded);
  EXPECT_EQ(loaded.schema, nullptr);
  EXPECT_NE(loaded.error.find("/nonexistent/dir/telemetry.bfbs"), std::string::npos) << loaded.error;
}

TEST(IngestSchema, CorruptBfbsIsRejectedNamingTheFile) {
  TempDir dir;
  std::vector<std::uint8_t> good = read_file(schema_path("telemetry"));
  ASSERT_GT(good.size(), 64u);

  struct Case {
    const char* name;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<Case> cases;
  cases.push_back({"empty.bfbs", {}});
  cases.push_back({"half.bfbs", std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<long>(good.size() / 2))});
  auto bad_root = good;
  bad_root[0] = bad_root[1] = bad_root[2] = 0xff;
  cases.push_back({"bad-root.bfbs", bad_root});
  const std::string fbs = "table T { a: int; } root_type T;";
  cases.push_back({"source-text.bfbs", std::vector<std::uint8_t>(fbs.begin(), fbs.end())});
  auto no_ident = good;
  no_ident[4] = 'X';
  cases.push_back({"no-ident.bfbs", no_ident});

  for (const Case& c : cases) {
    const fs::path file = dir.path() / c.name;
    write_file(file, c.bytes);
    auto loaded = Schema::load(file);
    EXPECT_FALSE(loaded) << c.name;
    EXPECT_NE(loaded.error.find(file.string()), std::string::npos) << loaded.error;
  }
}

TEST(IngestSchema, EverySingleByteCorruptionIsRejectedOrHarmless) {
  // Each byte of the .bfbs inverted in turn: loading either fails cleanly or gives a schema that
  // verifies payloads without reading out of bounds (run it under ASan: -DARCHER_SANITIZE=ON).
  // Only the binary path: flatbuffers::Parser::Deserialize of Debian's 2.0.8 aborts on a failed
  // FLATBUFFERS_ASSERT for some corrupt-but-verifiable schemas (see schema.h).
  const std::vector<std::uint8_t> good = read_file(schema_path("telemetry"));
  const std::vector<std::uint8_t> payload = env_reading("env-1", 3);
  int loaded_count = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    auto bytes = good;
    bytes[i] = static_cast<std::uint8_t>(bytes[i] ^ 0xff);
    auto loaded = Schema::from_bytes(std::move(bytes), "corrupt.bfbs");
    if (!loaded) {
      EXPECT_NE(loaded.error.find("corrupt.bfbs"), std::string::npos);
      continue;
    }
    ++loaded_count;
    archer::ingest::ValidatorSettings settings;
    settings.section = "t";
    std::string error;
    auto validator = archer::ingest::Validator::create(loaded.schema, settings, error);
    ASSERT_TRUE(validator) << error;
    (void)validator->validate(payload, "", {});
    (void)loaded.schema->read_field_as_text(payload, "device");
  }
  // Comments and names make up much of the file: some corruptions are harmless.
  EXPECT_GT(loaded_count, 0);
}

TEST(IngestSchema, JsonParserCarriesRootAndIdentifier) {
  auto loaded = Schema::load(schema_path("telemetry"));
  ASSERT_TRUE(loaded) << loaded.error;
  std::string error;
  auto parser = loaded.schema->make_json_parser(error);
  ASSERT_NE(parser, nullptr) << error;
  ASSERT_TRUE(parser->ParseJson(R"({"device":"d","seq":1})")) << parser->error_;
  EXPECT_TRUE(flatbuffers::BufferHasIdentifier(parser->builder_.GetBufferPointer(), "ATEL"));
  // Strict JSON: unquoted keys are refused.
  EXPECT_FALSE(parser->ParseJson(R"({device:"d"})"));
}

TEST(IngestSchema, ReadFieldAsText) {
  auto loaded = Schema::load(schema_path("telemetry"));
  ASSERT_TRUE(loaded) << loaded.error;
  const Schema& schema = *loaded.schema;
  const auto buffer = env_reading("env-7", 18446744073709551615ull);
  EXPECT_EQ(schema.read_field_as_text(buffer, "device"), "env-7");
  EXPECT_EQ(schema.read_field_as_text(buffer, "seq"), "18446744073709551615");
  EXPECT_EQ(schema.read_field_as_text(buffer, "reading_type"), "EnvironmentReading");
  EXPECT_TRUE(schema.read_field_as_text(buffer, "reading").has_value());
  EXPECT_EQ(schema.read_field_as_text(buffer, "no_such_field"), std::nullopt);

  flatbuffers::FlatBufferBuilder fbb;
  archer::telemetry::FinishTelemetryBuffer(fbb, archer::telemetry::CreateTelemetryDirect(fbb, "d"));
  const std::span<const std::uint8_t> minimal(fbb.GetBufferPointer(), fbb.GetSize());
  EXPECT_EQ(schema.read_field_as_text(minimal, "seq"), "0");  // absent scalar: its default
  EXPECT_EQ(schema.read_field_as_text(minimal, "reading_type"), "NONE");
  EXPECT_EQ(schema.read_field_as_text(minimal, "reading"), std::nullopt);
}
