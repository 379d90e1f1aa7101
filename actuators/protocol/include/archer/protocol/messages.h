#pragma once
// The actuation path's messages (schemas/command.fbs, device_command.fbs, device_response.fbs,
// transaction.fbs, event.fbs) as plain owned structs, with the only code that builds and reads their
// FlatBuffers. Decoding verifies the buffer and its file identifier first: bytes from Kafka or a
// device are never trusted; when it fails, `why` (if given) says what was wrong.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "archer/protocol/ids.h"
#include "archer/schemas/command_generated.h"
#include "archer/schemas/device_command_generated.h"
#include "archer/schemas/device_response_generated.h"
#include "archer/schemas/event_generated.h"
#include "archer/schemas/transaction_generated.h"

namespace archer::protocol {

using Bytes = std::vector<std::uint8_t>;
using Args = std::vector<std::pair<std::string, std::string>>;
using command::ResponseStatus;
using event::OutcomeStatus;
using transaction::Phase;

struct Command {
  CommandId id;
  DeviceId device;
  std::string action;
  Args args;
  std::int64_t issued_at_ms = 0;
  std::int64_t deadline_ms = 0;  // 0: none
};

struct DeviceCommand {
  InteractionId interaction_id;
  std::string action;
  Args args;
};

struct DeviceResponse {
  InteractionId interaction_id;
  ResponseStatus status = ResponseStatus::OK;
  std::string detail;
  Bytes payload;
};

struct Transaction {
  InteractionId interaction_id;
  CommandId command_id;
  DeviceId device;
  Phase phase = Phase::OPENED;
  std::uint32_t attempt = 0;
  Bytes payload;  // OPENED: the Command; SENT: the DeviceCommand; RESPONDED: the DeviceResponse; CLOSED: the outcome
  std::int64_t time_ms = 0;
  std::string detail;
  // Where the command is in the command log (-1: unknown, from records written before this was kept):
  // what lets a start forget exchanges of commands below the committed offsets.
  std::int32_t command_partition = -1;
  std::int64_t command_offset = -1;
};

struct Outcome {
  CommandId command_id;
  InteractionId interaction_id;
  DeviceId device;
  OutcomeStatus status = OutcomeStatus::SUCCEEDED;
  Bytes response;
  std::int64_t latency_ms = 0;
  std::string detail;
};

Bytes encode(const Command& message);
Bytes encode(const DeviceCommand& message);
Bytes encode(const DeviceResponse& message);
Bytes encode(const Transaction& message);
Bytes encode(const Outcome& message);

std::optional<Command> decode_command(std::span<const std::uint8_t> bytes, std::string* why = nullptr);
std::optional<DeviceCommand> decode_device_command(std::span<const std::uint8_t> bytes, std::string* why = nullptr);
// Accepts the identifier of device_response.fbs ("ADRS") and, from devices built from the single
// command.fbs of earlier releases, that file's ("ACMD").
std::optional<DeviceResponse> decode_device_response(std::span<const std::uint8_t> bytes, std::string* why = nullptr);
std::optional<Transaction> decode_transaction(std::span<const std::uint8_t> bytes, std::string* why = nullptr);
std::optional<Outcome> decode_outcome(std::span<const std::uint8_t> bytes, std::string* why = nullptr);

// The one mapping from a device's answer to a command's outcome: live closes and replays use it
// alike, so that a replay gives what the live gateway gave.
OutcomeStatus outcome_of(ResponseStatus status);

const char* name_of(Phase phase);
const char* name_of(OutcomeStatus status);
const char* name_of(ResponseStatus status);

}  // namespace archer::protocol
