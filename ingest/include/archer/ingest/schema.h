#pragma once
// A binary FlatBuffers schema (`flatc -b --schema x.fbs` -> x.bfbs), loaded at run time so the bridge
// verifies payloads of any schema without being recompiled (docs/contract.md, "Schemas").
//
// Loading never throws for bad input: it returns an error naming the file, so startup can fail fast
// with a useful message. A loaded Schema is immutable and safe to share between threads (hold it by
// shared_ptr; every Validator keeps the one it was built from alive).
//
// The .bfbs bytes are not trusted: they pass flatbuffers::Verifier (reflection::VerifySchemaBuffer)
// and a consistency check of every type index before anything reads them.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace reflection {
struct Schema;
struct Object;
struct Field;
}  // namespace reflection

namespace flatbuffers {
class Parser;
}

namespace archer::ingest {

// Verification limits (docs/limits.md), below flatbuffers' defaults (64 and 1'000'000): how deep
// tables may nest in a payload and how many a payload may hold in all (each table reached counts, so
// a table that many offsets share counts once per offset). Our telemetry nests 2 deep with 2
// tables; these leave room for batches of readings within a 256 KiB max_payload.
inline constexpr unsigned kMaxVerifyDepth = 16;
inline constexpr unsigned kMaxVerifyTables = 10'000;

class Schema;

struct SchemaLoadResult {
  std::shared_ptr<const Schema> schema;  // null on error
  std::string error;                     // "<file>: <what is wrong>" when schema is null
  explicit operator bool() const { return schema != nullptr; }
};

class Schema {
 public:
  // Reads and checks a .bfbs file.
  static SchemaLoadResult load(const std::filesystem::path& file);
  // The same checks on bytes already in memory; `file` gives the name (its stem) and prefixes errors.
  static SchemaLoadResult from_bytes(std::vector<std::uint8_t> bytes, const std::filesystem::path& file);

  const std::filesystem::path& file() const { return file_; }
  // The file's stem: "telemetry" for schemas/telemetry.bfbs.
  const std::string& name() const { return name_; }
  // "name@<first 12 hex digits of SHA-256 of the .bfbs bytes>": the `archer-schema` record header.
  const std::string& id() const { return id_; }
  // The schema's file_identifier ("ATEL"), empty when the schema declares none.
  std::string_view file_ident() const { return file_ident_; }
  // The root table's fully qualified name: "archer.telemetry.Telemetry".
  std::string_view root_name() const;
  std::span<const std::uint8_t> bytes() const { return bytes_; }

  const reflection::Schema& reflection() const { return *schema_; }
  const reflection::Object& root() const { return *root_; }
  // A field of the root table by name; nullptr when there is none.
  const reflection::Field* root_field(std::string_view name) const;

  // A JSON -> FlatBuffers parser for this schema: strict JSON (quoted keys), root type and
  // file_identifier as in the schema, unknown fields rejected. Built from the same .bfbs bytes.
  // A Parser is not thread-safe: one per thread. Null with `error` set when it cannot be built.
  // Caveat: Debian's libflatbuffers 2.0.8 is built with assertions, and Parser::Deserialize asserts
  // on some inconsistencies (a struct's byte size) that verification and our index checks do not
  // catch: a corrupt-but-verifiable .bfbs may abort() here, at startup, rather than return an error.
  std::unique_ptr<flatbuffers::Parser> make_json_parser(std::string& error) const;

  // One root-table field of a buffer that ALREADY PASSED verification against this schema, as text:
  // strings as they are; integers in decimal (an enum value by its name when it has one); bool as
  // true/false; floats in shortest round-trip form; an absent scalar gives its default. Tables,
  // unions and vectors give flatbuffers' debug rendering. nullopt when the root has no such field or
  // a string/table/vector field is absent. For tests and archer-ctl, not for the hot path.
  std::optional<std::string> read_field_as_text(std::span<const std::uint8_t> verified_buffer,
                                                std::string_view field_name) const;

  // What flatbuffers::Verify (reflection, 2.0.8) lets through but the generated verifiers reject:
  // an absent `(required)` field, and an offset field (string, table, vector, union) whose offset is
  // 0 (pointing at itself) or 2 GiB and more. For a buffer that passed Verify: "" when every table
  // reachable from the root (sub-tables, union members, vectors of tables) is fine, else what is
  // wrong ("required field archer.telemetry.Telemetry.device is missing"). Vector elements'
  // offsets are not checked. Does not allocate when the buffer is fine.
  std::string post_verify_problem(std::span<const std::uint8_t> verified_buffer) const;

  // Guard for a flatbuffers 2.0.8 bug: flatbuffers::Verify reads a union's offset and its _type
  // byte without checking that they lie inside the buffer (a crafted vtable entry makes it read far
  // out of bounds: found by tests/fuzz). Run BEFORE Verify: walks, with its own bounds checks,
  // the tables that can reach a union and returns false when a union or union-type slot lies
  // outside its table's inline size, or a union's offset does not point into the buffer (Verify
  // skips that check when the type is NONE; generated verifiers do not). Free for schemas without
  // unions. (Vectors of unions are refused when the schema is loaded.)
  bool union_slots_in_bounds(std::span<const std::uint8_t> buffer) const;

 private:
  // Per reflection object (same index as schema->objects()): what the required check needs.
  struct TableInfo {
    std::vector<const reflection::Field*> required;  // non-scalar required fields
    std::vector<const reflection::Field*> offsets;   // string, table, vector and union fields
    // Fields leading to tables: a table field, a vector of tables, or a union with its _type field.
    std::vector<std::pair<const reflection::Field*, const reflection::Field*>> children;
    bool relevant = false;  // it, or a table reachable from it, has required or offset fields
    bool unions = false;    // it, or a table reachable from it, has a union field
  };

  Schema() = default;
  void index_required_fields();
  bool find_problem(const void* table, std::size_t object, int depth, std::string& problem) const;
  bool unions_in_bounds(std::span<const std::uint8_t> buffer, std::size_t table, std::size_t object, int depth,
                        std::size_t& budget) const;

  std::filesystem::path file_;
  std::string name_;
  std::string id_;
  std::string file_ident_;
  std::vector<std::uint8_t> bytes_;  // kept alive: schema_ and root_ point into it
  const reflection::Schema* schema_ = nullptr;
  const reflection::Object* root_ = nullptr;
  std::size_t root_index_ = 0;
  std::vector<TableInfo> tables_;
};

}  // namespace archer::ingest
