#include "archer/actuators/messages.h"

#include <cstring>

namespace archer::actuators {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

Bytes finish(FlatBufferBuilder& builder) {
  return Bytes(builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize());
}

std::string text(const flatbuffers::String* value) { return value == nullptr ? std::string() : value->str(); }

Bytes bytes_of(const flatbuffers::Vector<std::uint8_t>* value) {
  return value == nullptr ? Bytes() : Bytes(value->begin(), value->end());
}

Offset<flatbuffers::Vector<Offset<command::Arg>>> encode_args(FlatBufferBuilder& builder, const Args& args) {
  std::vector<Offset<command::Arg>> out;
  for (const auto& [name, value] : args) out.push_back(command::CreateArgDirect(builder, name.c_str(), value.c_str()));
  return builder.CreateVector(out);
}

Args decode_args(const flatbuffers::Vector<Offset<command::Arg>>* args) {
  Args out;
  if (args == nullptr) return out;
  for (const command::Arg* arg : *args) out.emplace_back(text(arg->name()), text(arg->value()));
  return out;
}

// FlatBuffers reads scalars in place, so a buffer must be aligned; a record value inside a Kafka
// message set often is not. Misaligned input is copied once into aligned storage.
class Aligned {
 public:
  explicit Aligned(std::span<const std::uint8_t> bytes) : view_(bytes) {
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::uint64_t) == 0) return;
    storage_.resize((bytes.size() + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t));
    std::memcpy(storage_.data(), bytes.data(), bytes.size());
    view_ = std::span(reinterpret_cast<const std::uint8_t*>(storage_.data()), bytes.size());
  }
  template <class Root>
  const Root* verified_root(const char* identifier) const {
    flatbuffers::Verifier verifier(view_.data(), view_.size());
    if (!verifier.VerifyBuffer<Root>(identifier)) return nullptr;
    return flatbuffers::GetRoot<Root>(view_.data());
  }

 private:
  std::span<const std::uint8_t> view_;
  std::vector<std::uint64_t> storage_;
};

}  // namespace

Bytes encode(const Command& message) {
  FlatBufferBuilder builder;
  auto args = encode_args(builder, message.args);
  command::FinishCommandBuffer(
      builder, command::CreateCommand(builder, builder.CreateString(message.id), builder.CreateString(message.device),
                                      builder.CreateString(message.action), args, message.issued_at_ms,
                                      message.deadline_ms));
  return finish(builder);
}

Bytes encode(const DeviceCommand& message) {
  FlatBufferBuilder builder;
  auto args = encode_args(builder, message.args);
  builder.Finish(command::CreateDeviceCommand(builder, builder.CreateString(message.interaction_id),
                                              builder.CreateString(message.action), args),
                 kDeviceCommandIdentifier);
  return finish(builder);
}

Bytes encode(const DeviceResponse& message) {
  FlatBufferBuilder builder;
  builder.Finish(command::CreateDeviceResponseDirect(builder, message.interaction_id.c_str(), message.status,
                                                     message.detail.c_str(),
                                                     message.payload.empty() ? nullptr : &message.payload),
                 kDeviceResponseIdentifier);
  return finish(builder);
}

Bytes encode(const Transaction& message) {
  FlatBufferBuilder builder;
  transaction::FinishTransactionBuffer(
      builder, transaction::CreateTransactionDirect(builder, message.interaction_id.c_str(), message.command_id.c_str(),
                                                    message.device.c_str(), message.phase, message.attempt,
                                                    message.payload.empty() ? nullptr : &message.payload,
                                                    message.time_ms, message.detail.empty() ? nullptr : message.detail.c_str()));
  return finish(builder);
}

Bytes encode(const Outcome& message) {
  FlatBufferBuilder builder;
  event::FinishCommandOutcomeBuffer(
      builder, event::CreateCommandOutcomeDirect(builder, message.command_id.c_str(), message.interaction_id.c_str(),
                                                 message.device.c_str(), message.status,
                                                 message.response.empty() ? nullptr : &message.response,
                                                 message.latency_ms, message.detail.empty() ? nullptr : message.detail.c_str()));
  return finish(builder);
}

std::optional<Command> decode_command(std::span<const std::uint8_t> bytes) {
  const Aligned aligned(bytes);
  const auto* root = aligned.verified_root<command::Command>(command::CommandIdentifier());
  if (root == nullptr) return std::nullopt;
  return Command{text(root->id()),  text(root->device()),  text(root->action()),
                 decode_args(root->args()), root->issued_at_ms(), root->deadline_ms()};
}

std::optional<DeviceCommand> decode_device_command(std::span<const std::uint8_t> bytes) {
  const Aligned aligned(bytes);
  const auto* root = aligned.verified_root<command::DeviceCommand>(kDeviceCommandIdentifier);
  if (root == nullptr) return std::nullopt;
  return DeviceCommand{text(root->interaction_id()), text(root->action()), decode_args(root->args())};
}

std::optional<DeviceResponse> decode_device_response(std::span<const std::uint8_t> bytes) {
  const Aligned aligned(bytes);
  const auto* root = aligned.verified_root<command::DeviceResponse>(kDeviceResponseIdentifier);
  if (root == nullptr) return std::nullopt;
  return DeviceResponse{text(root->interaction_id()), root->status(), text(root->detail()), bytes_of(root->payload())};
}

std::optional<Transaction> decode_transaction(std::span<const std::uint8_t> bytes) {
  const Aligned aligned(bytes);
  const auto* root = aligned.verified_root<transaction::Transaction>(transaction::TransactionIdentifier());
  if (root == nullptr) return std::nullopt;
  return Transaction{text(root->interaction_id()), text(root->command_id()), text(root->device()), root->phase(),
                     root->attempt(), bytes_of(root->payload()), root->time_ms(), text(root->detail())};
}

std::optional<Outcome> decode_outcome(std::span<const std::uint8_t> bytes) {
  const Aligned aligned(bytes);
  const auto* root = aligned.verified_root<event::CommandOutcome>(event::CommandOutcomeIdentifier());
  if (root == nullptr) return std::nullopt;
  return Outcome{text(root->command_id()), text(root->interaction_id()), text(root->device()), root->status(),
                 bytes_of(root->response()), root->latency_ms(), text(root->detail())};
}

const char* name_of(Phase phase) { return transaction::EnumNamePhase(phase); }
const char* name_of(OutcomeStatus status) { return event::EnumNameOutcomeStatus(status); }
const char* name_of(ResponseStatus status) { return command::EnumNameResponseStatus(status); }

}  // namespace archer::actuators
