#include "archer/protocol/messages.h"

#include <cstring>

#include <fmt/format.h>

namespace archer::protocol {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// Verifier limits (docs/limits.md), below flatbuffers' defaults (64 and 1'000'000): these messages
// nest two tables deep at most (a Command and its Args), and a table per Arg is the only way to many
// tables, so a decodable Command holds at most kMaxTables - 1 args.
constexpr flatbuffers::uoffset_t kMaxDepth = 8;
constexpr flatbuffers::uoffset_t kMaxTables = 1024;

constexpr const char* kLegacyResponseIdentifier = "ACMD";  // command.fbs, when it held DeviceResponse too

Bytes finish(FlatBufferBuilder& builder) {
  return Bytes(builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize());
}

std::string text(const flatbuffers::String* value) { return value == nullptr ? std::string() : value->str(); }

Bytes bytes_of(const flatbuffers::Vector<std::uint8_t>* value) {
  return value == nullptr ? Bytes() : Bytes(value->begin(), value->end());
}

Offset<flatbuffers::Vector<Offset<command::Arg>>> encode_args(FlatBufferBuilder& builder, const Args& args) {
  std::vector<Offset<command::Arg>> out;
  for (const auto& [name, value] : args) {
    out.push_back(command::CreateArg(builder, builder.CreateString(name), builder.CreateString(value)));
  }
  return builder.CreateVector(out);
}

Args decode_args(const flatbuffers::Vector<Offset<command::Arg>>* args) {
  Args out;
  if (args == nullptr) return out;
  for (const command::Arg* arg : *args) out.emplace_back(text(arg->name()), text(arg->value()));
  return out;
}

void explain(std::string* why, std::string text) {
  if (why != nullptr) *why = std::move(text);
}

// FlatBuffers reads scalars in place, so a buffer must be aligned; a record value inside a Kafka
// message set often is not. Misaligned input is copied once into aligned storage.
class Aligned {
 public:
  explicit Aligned(std::span<const std::uint8_t> bytes) : view_(bytes) {
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::uint64_t) == 0) return;
    // One word more than needed, never none: memcpy must not be given a null pointer even for an
    // empty input (found by tests/fuzz).
    storage_.resize(bytes.size() / sizeof(std::uint64_t) + 1);
    std::memcpy(storage_.data(), bytes.data(), bytes.size());
    view_ = std::span(reinterpret_cast<const std::uint8_t*>(storage_.data()), bytes.size());
  }

  // The root when the buffer carries one of `identifiers` and verifies as `Root`; else null and why.
  template <class Root>
  const Root* verified_root(std::initializer_list<const char*> identifiers, const char* root_name,
                            std::string* why) const {
    if (view_.size() < 8) {
      explain(why, fmt::format("{} bytes: too short for a {} buffer", view_.size(), root_name));
      return nullptr;
    }
    const char* found = nullptr;
    for (const char* identifier : identifiers) {
      if (flatbuffers::BufferHasIdentifier(view_.data(), identifier)) found = identifier;
    }
    if (found == nullptr) {
      explain(why, fmt::format("file identifier '{}', expected '{}' ({})", printable_identifier(), *identifiers.begin(),
                               root_name));
      return nullptr;
    }
    flatbuffers::Verifier verifier(view_.data(), view_.size(), kMaxDepth, kMaxTables);
    if (!verifier.VerifyBuffer<Root>(found)) {
      explain(why, fmt::format("does not verify as a {} (a field missing, out of bounds or of the wrong type)", root_name));
      return nullptr;
    }
    return flatbuffers::GetRoot<Root>(view_.data());
  }

 private:
  std::string printable_identifier() const {
    std::string out;
    for (std::size_t i = 4; i < 8; ++i) {
      const auto c = static_cast<char>(view_[i]);
      out += (c >= 0x20 && c < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", view_[i]);
    }
    return out;
  }

  std::span<const std::uint8_t> view_;
  std::vector<std::uint64_t> storage_;
};

}  // namespace

Bytes encode(const Command& message) {
  FlatBufferBuilder builder;
  auto args = encode_args(builder, message.args);
  command::FinishCommandBuffer(
      builder, command::CreateCommand(builder, builder.CreateString(message.id.str()),
                                      builder.CreateString(message.device.str()), builder.CreateString(message.action),
                                      args, message.issued_at_ms, message.deadline_ms));
  return finish(builder);
}

Bytes encode(const DeviceCommand& message) {
  FlatBufferBuilder builder;
  auto args = encode_args(builder, message.args);
  command::FinishDeviceCommandBuffer(
      builder, command::CreateDeviceCommand(builder, builder.CreateString(message.interaction_id.str()),
                                            builder.CreateString(message.action), args));
  return finish(builder);
}

// Strings are written with their length, never through c_str(): an id or detail that holds a NUL
// byte (FlatBuffers strings may) must come back as it was decoded.
Offset<flatbuffers::String> string_or_null(FlatBufferBuilder& builder, const std::string& value) {
  return value.empty() ? Offset<flatbuffers::String>() : builder.CreateString(value);
}

Offset<flatbuffers::Vector<std::uint8_t>> bytes_or_null(FlatBufferBuilder& builder, const Bytes& value) {
  return value.empty() ? Offset<flatbuffers::Vector<std::uint8_t>>() : builder.CreateVector(value);
}

Bytes encode(const DeviceResponse& message) {
  FlatBufferBuilder builder;
  const auto id = builder.CreateString(message.interaction_id.str());
  const auto detail = builder.CreateString(message.detail);
  const auto payload = bytes_or_null(builder, message.payload);
  command::FinishDeviceResponseBuffer(builder,
                                      command::CreateDeviceResponse(builder, id, message.status, detail, payload));
  return finish(builder);
}

Bytes encode(const Transaction& message) {
  FlatBufferBuilder builder;
  const auto interaction = builder.CreateString(message.interaction_id.str());
  const auto command = builder.CreateString(message.command_id.str());
  const auto device = builder.CreateString(message.device.str());
  const auto payload = bytes_or_null(builder, message.payload);
  const auto detail = string_or_null(builder, message.detail);
  transaction::FinishTransactionBuffer(
      builder,
      transaction::CreateTransaction(builder, interaction, command, device, message.phase, message.attempt, payload,
                                     message.time_ms, detail, message.command_partition, message.command_offset));
  return finish(builder);
}

Bytes encode(const Outcome& message) {
  FlatBufferBuilder builder;
  const auto command = builder.CreateString(message.command_id.str());
  const auto interaction = builder.CreateString(message.interaction_id.str());
  const auto device = builder.CreateString(message.device.str());
  const auto response = bytes_or_null(builder, message.response);
  const auto detail = string_or_null(builder, message.detail);
  event::FinishCommandOutcomeBuffer(
      builder, event::CreateCommandOutcome(builder, command, interaction, device, message.status, response,
                                           message.latency_ms, detail));
  return finish(builder);
}

std::optional<Command> decode_command(std::span<const std::uint8_t> bytes, std::string* why) {
  const Aligned aligned(bytes);
  const auto* root = aligned.verified_root<command::Command>({command::CommandIdentifier()}, "Command", why);
  if (root == nullptr) return std::nullopt;
  return Command{CommandId(text(root->id())), DeviceId(text(root->device())), text(root->action()),
                 decode_args(root->args()), root->issued_at_ms(), root->deadline_ms()};
}

std::optional<DeviceCommand> decode_device_command(std::span<const std::uint8_t> bytes, std::string* why) {
  const Aligned aligned(bytes);
  const auto* root =
      aligned.verified_root<command::DeviceCommand>({command::DeviceCommandIdentifier()}, "DeviceCommand", why);
  if (root == nullptr) return std::nullopt;
  return DeviceCommand{InteractionId(text(root->interaction_id())), text(root->action()), decode_args(root->args())};
}

std::optional<DeviceResponse> decode_device_response(std::span<const std::uint8_t> bytes, std::string* why) {
  const Aligned aligned(bytes);
  const auto* root = aligned.verified_root<command::DeviceResponse>(
      {command::DeviceResponseIdentifier(), kLegacyResponseIdentifier}, "DeviceResponse", why);
  if (root == nullptr) return std::nullopt;
  return DeviceResponse{InteractionId(text(root->interaction_id())), root->status(), text(root->detail()),
                        bytes_of(root->payload())};
}

std::optional<Transaction> decode_transaction(std::span<const std::uint8_t> bytes, std::string* why) {
  const Aligned aligned(bytes);
  const auto* root =
      aligned.verified_root<transaction::Transaction>({transaction::TransactionIdentifier()}, "Transaction", why);
  if (root == nullptr) return std::nullopt;
  return Transaction{InteractionId(text(root->interaction_id())),
                     CommandId(text(root->command_id())),
                     DeviceId(text(root->device())),
                     root->phase(),
                     root->attempt(),
                     bytes_of(root->payload()),
                     root->time_ms(),
                     text(root->detail()),
                     root->command_partition(),
                     root->command_offset()};
}

std::optional<Outcome> decode_outcome(std::span<const std::uint8_t> bytes, std::string* why) {
  const Aligned aligned(bytes);
  const auto* root =
      aligned.verified_root<event::CommandOutcome>({event::CommandOutcomeIdentifier()}, "CommandOutcome", why);
  if (root == nullptr) return std::nullopt;
  return Outcome{CommandId(text(root->command_id())),
                 InteractionId(text(root->interaction_id())),
                 DeviceId(text(root->device())),
                 root->status(),
                 bytes_of(root->response()),
                 root->latency_ms(),
                 text(root->detail())};
}

OutcomeStatus outcome_of(ResponseStatus status) {
  switch (status) {
    case ResponseStatus::OK: return OutcomeStatus::SUCCEEDED;
    case ResponseStatus::REJECTED: return OutcomeStatus::REJECTED;
    case ResponseStatus::ERROR: return OutcomeStatus::FAILED;
  }
  return OutcomeStatus::FAILED;  // a status this build does not know
}

const char* name_of(Phase phase) { return transaction::EnumNamePhase(phase); }
const char* name_of(OutcomeStatus status) { return event::EnumNameOutcomeStatus(status); }
const char* name_of(ResponseStatus status) { return command::EnumNameResponseStatus(status); }

}  // namespace archer::protocol
