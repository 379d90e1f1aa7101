#include "archer/ingest/schema.h"

#include <flatbuffers/idl.h>
#include <flatbuffers/reflection.h>
#include <flatbuffers/reflection_generated.h>
#include <flatbuffers/verifier.h>
#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <system_error>

namespace archer::ingest {
namespace {

constexpr std::uintmax_t kMaxSchemaFileSize = 64u << 20;  // a .bfbs is kilobytes; refuse absurd files

std::string sha256_prefix(std::span<const std::uint8_t> bytes, std::size_t hex_digits) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length && out.size() < hex_digits; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  out.resize(std::min(out.size(), hex_digits));
  return out;
}

bool valid_base_type(reflection::BaseType type) {
  return type >= reflection::None && type < reflection::MaxBaseType;
}

// flatbuffers' own code indexes schema->objects() / enums() with a type's index without checking it
// (only FLATBUFFERS_ASSERT): a verified but inconsistent .bfbs would make Verify and the JSON parser
// read out of bounds. Every index is checked here, once, at load.
bool check_type(const reflection::Type* type, std::size_t objects, std::size_t enums, std::string& why) {
  if (type == nullptr) {
    why = "a field has no type";
    return false;
  }
  const auto base = type->base_type();
  const auto element = type->element();
  if (!valid_base_type(base) || !valid_base_type(element)) {
    why = fmt::format("unknown base type {}", static_cast<int>(base));
    return false;
  }
  const bool is_vector = base == reflection::Vector || base == reflection::Array;
  const auto effective = is_vector ? element : base;
  const int index = type->index();
  if (effective == reflection::Obj) {
    if (index < 0 || static_cast<std::size_t>(index) >= objects) {
      why = fmt::format("table/struct index {} out of range", index);
      return false;
    }
  } else if (effective == reflection::Union || effective == reflection::UType) {
    if (index < 0 || static_cast<std::size_t>(index) >= enums) {
      why = fmt::format("union index {} out of range", index);
      return false;
    }
  } else if (index >= 0 && static_cast<std::size_t>(index) >= enums) {
    why = fmt::format("enum index {} out of range", index);
    return false;
  }
  return true;
}

bool check_consistency(const reflection::Schema& schema, std::string& why) {
  const auto* objects = schema.objects();
  const auto* enums = schema.enums();
  if (objects == nullptr || enums == nullptr) {
    why = "no objects or enums table";
    return false;
  }
  const std::size_t object_count = objects->size();
  const std::size_t enum_count = enums->size();
  for (const reflection::Object* object : *objects) {
    if (object == nullptr || object->name() == nullptr || object->fields() == nullptr) {
      why = "an object without name or fields";
      return false;
    }
    // Field ids must be a permutation of 0..n-1: Parser::Deserialize (2.0.8) writes to an array
    // indexed by id without checking it.
    std::vector<bool> seen_ids(object->fields()->size(), false);
    for (const reflection::Field* field : *object->fields()) {
      if (field == nullptr || field->name() == nullptr) {
        why = fmt::format("{}: a field without name", object->name()->str());
        return false;
      }
      if (field->id() >= seen_ids.size() || seen_ids[field->id()]) {
        why = fmt::format("{}.{}: field id {} out of range or repeated", object->name()->str(), field->name()->str(),
                          field->id());
        return false;
      }
      seen_ids[field->id()] = true;
      if (!check_type(field->type(), object_count, enum_count, why)) {
        why = fmt::format("{}.{}: {}", object->name()->str(), field->name()->str(), why);
        return false;
      }
    }
  }
  for (const reflection::Enum* enumeration : *enums) {
    if (enumeration == nullptr || enumeration->name() == nullptr || enumeration->values() == nullptr) {
      why = "an enum without name or values";
      return false;
    }
    if (!check_type(enumeration->underlying_type(), object_count, enum_count, why)) {
      why = fmt::format("{}: {}", enumeration->name()->str(), why);
      return false;
    }
    for (const reflection::EnumVal* value : *enumeration->values()) {
      if (value == nullptr || value->name() == nullptr) {
        why = fmt::format("{}: a value without name", enumeration->name()->str());
        return false;
      }
      if (enumeration->is_union() && value->value() != 0) {
        const auto* union_type = value->union_type();
        if (union_type == nullptr || !check_type(union_type, object_count, enum_count, why)) {
          why = fmt::format("{}.{}: {}", enumeration->name()->str(), value->name()->str(),
                            union_type == nullptr ? "union member without type" : why);
          return false;
        }
      }
    }
  }
  return true;
}

template <class T>
std::string to_decimal(T value) {
  std::array<char, 32> text{};
  auto [end, ec] = std::to_chars(text.data(), text.data() + text.size(), value);
  return std::string(text.data(), end);
}

}  // namespace

SchemaLoadResult Schema::load(const std::filesystem::path& file) {
  SchemaLoadResult result;
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) {
    result.error = fmt::format("{}: cannot read schema: {}", file.string(), ec.message());
    return result;
  }
  if (size > kMaxSchemaFileSize) {
    result.error = fmt::format("{}: not a binary schema: {} bytes is far too large", file.string(), size);
    return result;
  }
  std::ifstream in(file, std::ios::binary);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (!in || !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    result.error = fmt::format("{}: cannot read schema: {}", file.string(), std::strerror(errno));
    return result;
  }
  return from_bytes(std::move(bytes), file);
}

SchemaLoadResult Schema::from_bytes(std::vector<std::uint8_t> bytes, const std::filesystem::path& file) {
  SchemaLoadResult result;
  const std::string where = file.string();
  if (bytes.size() < 8 || !reflection::SchemaBufferHasIdentifier(bytes.data())) {
    result.error = fmt::format(
        "{}: not a binary schema (no \"BFBS\" file identifier; compile it with `flatc -b --schema`)", where);
    return result;
  }
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  if (!reflection::VerifySchemaBuffer(verifier)) {
    result.error = fmt::format("{}: corrupt binary schema (fails FlatBuffers verification)", where);
    return result;
  }
  const reflection::Schema* schema = reflection::GetSchema(bytes.data());
  std::string why;
  if (!check_consistency(*schema, why)) {
    result.error = fmt::format("{}: corrupt binary schema: {}", where, why);
    return result;
  }
  const reflection::Object* root = schema->root_table();
  if (root == nullptr) {
    result.error = fmt::format("{}: the schema declares no root_type", where);
    return result;
  }
  for (const reflection::Object* object : *schema->objects()) {
    for (const reflection::Field* field : *object->fields()) {
      if (field->type()->base_type() == reflection::Vector && field->type()->element() == reflection::Union) {
        result.error = fmt::format("{}: {}.{}: vectors of unions are not supported (flatbuffers 2.0.8 cannot "
                                   "verify them safely)", where, object->name()->str(), field->name()->str());
        return result;
      }
      if (field->type()->base_type() == reflection::Union) {
        // Verify reads a union's type from the vtable slot just before the union's: flatc puts the
        // <name>_type field there. Anything else is a corrupt schema (and would defeat our guard).
        const std::string type_name = field->name()->str() + "_type";
        bool found = false;
        for (const reflection::Field* other : *object->fields()) {
          found = found || (other->name()->str() == type_name && other->type()->base_type() == reflection::UType &&
                            other->offset() + sizeof(flatbuffers::voffset_t) == field->offset());
        }
        if (!found) {
          result.error = fmt::format("{}: corrupt binary schema: union {}.{} has no {} field just before it", where,
                                     object->name()->str(), field->name()->str(), type_name);
          return result;
        }
      }
    }
  }
  if (root->is_struct()) {
    result.error = fmt::format("{}: the root type {} is a struct, not a table", where, root->name()->str());
    return result;
  }

  auto loaded = std::shared_ptr<Schema>(new Schema());
  loaded->file_ = file;
  loaded->name_ = file.stem().string();
  loaded->bytes_ = std::move(bytes);
  const std::string digest = sha256_prefix(loaded->bytes_, 12);
  if (digest.empty()) {
    result.error = fmt::format("{}: cannot compute SHA-256 (OpenSSL)", where);
    return result;
  }
  loaded->id_ = loaded->name_ + "@" + digest;
  // The vector's storage moved with it: take the pointers only now.
  loaded->schema_ = reflection::GetSchema(loaded->bytes_.data());
  loaded->root_ = loaded->schema_->root_table();
  if (const auto* ident = loaded->schema_->file_ident(); ident != nullptr) loaded->file_ident_ = ident->str();
  loaded->index_required_fields();
  if (!loaded->file_ident_.empty() && loaded->file_ident_.size() != flatbuffers::kFileIdentifierLength) {
    result.error = fmt::format("{}: file_identifier \"{}\" is not {} characters", where, loaded->file_ident_,
                               flatbuffers::kFileIdentifierLength);
    return result;
  }
  result.schema = std::move(loaded);
  return result;
}

void Schema::index_required_fields() {
  const auto& objects = *schema_->objects();
  tables_.assign(objects.size(), TableInfo{});
  for (flatbuffers::uoffset_t i = 0; i < objects.size(); ++i) {
    const reflection::Object* object = objects.Get(i);
    if (object == root_) root_index_ = i;
    if (object->is_struct()) continue;
    TableInfo& info = tables_[i];
    for (const reflection::Field* field : *object->fields()) {
      const auto base = field->type()->base_type();
      if (field->required() && !flatbuffers::IsScalar(base)) info.required.push_back(field);
      const bool struct_field = base == reflection::Obj &&
                                objects.Get(static_cast<flatbuffers::uoffset_t>(field->type()->index()))->is_struct();
      if (!flatbuffers::IsScalar(base) && base != reflection::Array && !struct_field) info.offsets.push_back(field);
      const bool table_field = base == reflection::Obj && !objects.Get(static_cast<flatbuffers::uoffset_t>(field->type()->index()))->is_struct();
      const bool table_vector = base == reflection::Vector && field->type()->element() == reflection::Obj &&
                                !objects.Get(static_cast<flatbuffers::uoffset_t>(field->type()->index()))->is_struct();
      if (table_field || table_vector) info.children.emplace_back(field, nullptr);
      if (base == reflection::Union) {
        // The union's type is the field named <name>_type (flatc gives it the id just before).
        const std::string type_name = field->name()->str() + "_type";
        for (const reflection::Field* other : *object->fields()) {
          if (other->name()->str() == type_name && other->type()->base_type() == reflection::UType) {
            info.children.emplace_back(field, other);
            break;
          }
        }
      }
    }
    info.relevant = !info.required.empty() || !info.offsets.empty();
    info.unions = std::any_of(info.children.begin(), info.children.end(),
                              [](const auto& child) { return child.second != nullptr; });
  }
  // Propagate both flags to the tables that can reach a flagged table (a fixpoint over a small graph).
  for (bool TableInfo::*flag : {&TableInfo::relevant, &TableInfo::unions}) {
    for (bool changed = true; changed;) {
      changed = false;
      for (TableInfo& info : tables_) {
        if (info.*flag) continue;
        for (const auto& [field, type_field] : info.children) {
          bool reaches = false;
          if (type_field == nullptr) {
            reaches = tables_[static_cast<std::size_t>(field->type()->index())].*flag;
          } else {
            for (const reflection::EnumVal* value :
                 *schema_->enums()->Get(static_cast<flatbuffers::uoffset_t>(field->type()->index()))->values()) {
              if (value->value() != 0 && value->union_type() != nullptr &&
                  value->union_type()->base_type() == reflection::Obj &&
                  tables_[static_cast<std::size_t>(value->union_type()->index())].*flag) {
                reaches = true;
              }
            }
          }
          if (reaches) {
            info.*flag = changed = true;
            break;
          }
        }
      }
    }
  }
}

bool Schema::union_slots_in_bounds(std::span<const std::uint8_t> buffer) const {
  if (!tables_[root_index_].unions) return true;
  if (buffer.size() < sizeof(flatbuffers::uoffset_t)) return false;
  std::size_t budget = kMaxVerifyTables;  // tables, as Verify's max_tables
  return unions_in_bounds(buffer, flatbuffers::ReadScalar<flatbuffers::uoffset_t>(buffer.data()), root_index_, 0,
                          budget);
}

bool Schema::unions_in_bounds(std::span<const std::uint8_t> buffer, std::size_t table, std::size_t object, int depth,
                              std::size_t& budget) const {
  const TableInfo& info = tables_[object];
  if (!info.unions || depth >= static_cast<int>(kMaxVerifyDepth)) return true;  // Verify stops there on its own
  if (budget-- == 0) return false;
  const std::uint8_t* data = buffer.data();
  const std::size_t size = buffer.size();
  constexpr std::size_t kOffset = sizeof(flatbuffers::uoffset_t);
  if (table % 4 != 0 || table > size || size - table < kOffset) return false;
  const std::int64_t vtable = static_cast<std::int64_t>(table) - flatbuffers::ReadScalar<flatbuffers::soffset_t>(data + table);
  if (vtable < 0 || vtable % 2 != 0 || static_cast<std::uint64_t>(vtable) + 4 > size) return false;
  const auto vtable_size = flatbuffers::ReadScalar<flatbuffers::voffset_t>(data + vtable);
  const auto table_size = flatbuffers::ReadScalar<flatbuffers::voffset_t>(data + vtable + 2);
  if (static_cast<std::uint64_t>(vtable) + vtable_size > size || table + table_size > size) return false;
  // A field's slot in the table (its voffset), 0 when absent.
  auto slot = [&](const reflection::Field* field) -> std::size_t {
    const std::size_t entry = field->offset();
    if (entry + sizeof(flatbuffers::voffset_t) > vtable_size) return 0;
    return flatbuffers::ReadScalar<flatbuffers::voffset_t>(data + vtable + entry);
  };
  // The offset stored at a slot, followed: the position it points to, or 0 when it is not a valid
  // offset (the same rules as flatbuffers::Verifier::VerifyOffset).
  auto follow = [&](std::size_t at) -> std::size_t {
    if (at % 4 != 0 || at > size || size - at < kOffset) return 0;
    const auto offset = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(data + at);
    if (offset == 0 || offset > 0x7fffffffu) return 0;
    const std::uint64_t target = std::uint64_t{at} + offset;
    return target < size ? static_cast<std::size_t>(target) : 0;
  };
  for (const auto& [field, type_field] : info.children) {
    const std::size_t field_slot = slot(field);
    if (type_field != nullptr) {
      const std::size_t type_slot = slot(type_field);
      if (type_slot != 0 && type_slot + 1 > table_size) return false;
      if (field_slot == 0) continue;
      if (field_slot + kOffset > table_size) return false;
      // Verify skips the offset of a union whose type is NONE or unknown; generated verifiers
      // check it whatever the type: so do we.
      const std::size_t child = follow(table + field_slot);
      if (child == 0) return false;
      const auto type = type_slot == 0 ? std::uint8_t{0} : data[table + type_slot];
      const reflection::EnumVal* member =
          schema_->enums()->Get(static_cast<flatbuffers::uoffset_t>(field->type()->index()))->values()->LookupByKey(type);
      if (member == nullptr || member->union_type() == nullptr || member->union_type()->base_type() != reflection::Obj) {
        continue;
      }
      if (!unions_in_bounds(buffer, child, static_cast<std::size_t>(member->union_type()->index()), depth + 1, budget)) {
        return false;
      }
      continue;
    }
    const auto child_object = static_cast<std::size_t>(field->type()->index());
    if (field_slot == 0 || !tables_[child_object].unions) continue;
    const std::size_t child = follow(table + field_slot);
    if (child == 0) return false;
    if (field->type()->base_type() == reflection::Obj) {
      if (!unions_in_bounds(buffer, child, child_object, depth + 1, budget)) return false;
      continue;
    }
    // A vector of tables: its length, then one offset per element.
    if (child % 4 != 0 || size - child < kOffset) return false;
    const std::uint64_t count = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(data + child);
    if (count > (size - child - kOffset) / kOffset) return false;
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::size_t element = follow(child + kOffset + static_cast<std::size_t>(i) * kOffset);
      if (element == 0) return false;
      if (!unions_in_bounds(buffer, element, child_object, depth + 1, budget)) return false;
    }
  }
  return true;
}

bool Schema::find_problem(const void* table_ptr, std::size_t object, int depth, std::string& problem) const {
  const TableInfo& info = tables_[object];
  if (!info.relevant || depth > static_cast<int>(kMaxVerifyDepth)) return false;
  const auto& table = *static_cast<const flatbuffers::Table*>(table_ptr);
  auto name_of = [&](const reflection::Field* field) {
    return schema_->objects()->Get(static_cast<flatbuffers::uoffset_t>(object))->name()->str() + "." + field->name()->str();
  };
  for (const reflection::Field* field : info.required) {
    if (table.GetAddressOf(field->offset()) == nullptr) {
      problem = "required field " + name_of(field) + " is missing";
      return true;
    }
  }
  for (const reflection::Field* field : info.offsets) {
    const std::uint8_t* slot = table.GetAddressOf(field->offset());
    if (slot == nullptr) continue;
    const auto offset = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(slot);
    if (offset == 0 || offset > 0x7fffffffu) {
      problem = fmt::format("field {} has the invalid offset {}", name_of(field), offset);
      return true;
    }
  }
  for (const auto& [field, type_field] : info.children) {
    const auto* child = table.GetPointer<const flatbuffers::Table*>(field->offset());
    if (child == nullptr) continue;
    if (type_field != nullptr) {
      const auto type = table.GetField<std::uint8_t>(type_field->offset(), 0);
      const reflection::Enum* union_enum = schema_->enums()->Get(static_cast<flatbuffers::uoffset_t>(field->type()->index()));
      const reflection::EnumVal* member = union_enum->values()->LookupByKey(type);
      if (member == nullptr || member->union_type() == nullptr || member->union_type()->base_type() != reflection::Obj) continue;
      if (find_problem(child, static_cast<std::size_t>(member->union_type()->index()), depth + 1, problem)) return true;
    } else if (field->type()->base_type() == reflection::Obj) {
      if (find_problem(child, static_cast<std::size_t>(field->type()->index()), depth + 1, problem)) return true;
    } else {
      const auto* vector = reinterpret_cast<const flatbuffers::VectorOfAny*>(child);
      for (flatbuffers::uoffset_t i = 0; i < vector->size(); ++i) {
        const auto* element = flatbuffers::GetAnyVectorElemPointer<const flatbuffers::Table>(vector, i);
        if (find_problem(element, static_cast<std::size_t>(field->type()->index()), depth + 1, problem)) return true;
      }
    }
  }
  return false;
}

std::string Schema::post_verify_problem(std::span<const std::uint8_t> verified_buffer) const {
  std::string problem;
  if (verified_buffer.size() < sizeof(flatbuffers::uoffset_t)) return "no root table";
  find_problem(flatbuffers::GetAnyRoot(verified_buffer.data()), root_index_, 0, problem);
  return problem;
}

std::string_view Schema::root_name() const {
  return std::string_view(root_->name()->c_str(), root_->name()->size());
}

const reflection::Field* Schema::root_field(std::string_view name) const {
  for (const reflection::Field* field : *root_->fields()) {
    if (std::string_view(field->name()->c_str(), field->name()->size()) == name) return field;
  }
  return nullptr;
}

std::unique_ptr<flatbuffers::Parser> Schema::make_json_parser(std::string& error) const {
  flatbuffers::IDLOptions options;
  options.strict_json = true;
  auto parser = std::make_unique<flatbuffers::Parser>(options);
  if (!parser->Deserialize(bytes_.data(), bytes_.size())) {
    error = fmt::format("{}: cannot build a JSON parser from the schema: {}", file_.string(),
                        parser->error_.empty() ? std::string("Parser::Deserialize failed") : parser->error_);
    return nullptr;
  }
  // Deserialize sets both from the schema already; set them explicitly so a future flatbuffers that
  // does not still yields buffers with the root and identifier the verifier expects.
  const std::string root = root_->name()->str();
  if (!parser->SetRootType(root.c_str())) {
    error = fmt::format("{}: JSON parser: unknown root type {}: {}", file_.string(), root, parser->error_);
    return nullptr;
  }
  parser->file_identifier_ = file_ident_;
  return parser;
}

std::optional<std::string> Schema::read_field_as_text(std::span<const std::uint8_t> verified_buffer,
                                                      std::string_view field_name) const {
  const reflection::Field* field = root_field(field_name);
  if (field == nullptr || verified_buffer.size() < sizeof(flatbuffers::uoffset_t)) return std::nullopt;
  const flatbuffers::Table& table = *flatbuffers::GetAnyRoot(verified_buffer.data());
  const auto base = field->type()->base_type();
  const bool present = table.GetAddressOf(field->offset()) != nullptr;
  switch (base) {
    case reflection::Bool:
      return flatbuffers::GetAnyFieldI(table, *field) != 0 ? "true" : "false";
    case reflection::ULong:
      return to_decimal(static_cast<std::uint64_t>(flatbuffers::GetAnyFieldI(table, *field)));
    case reflection::Float:
    case reflection::Double:
      return to_decimal(flatbuffers::GetAnyFieldF(table, *field));
    case reflection::String: {
      const flatbuffers::String* text = flatbuffers::GetFieldS(table, *field);
      if (text == nullptr) return std::nullopt;
      return text->str();
    }
    default:
      break;
  }
  if (flatbuffers::IsInteger(base)) {
    const std::int64_t value = flatbuffers::GetAnyFieldI(table, *field);
    if (const int index = field->type()->index(); index >= 0) {
      for (const reflection::EnumVal* enum_value : *schema_->enums()->Get(static_cast<flatbuffers::uoffset_t>(index))->values()) {
        if (enum_value->value() == value) return enum_value->name()->str();
      }
    }
    return to_decimal(value);
  }
  if (!present) return std::nullopt;
  return flatbuffers::GetAnyFieldS(table, *field, schema_);
}

}  // namespace archer::ingest
