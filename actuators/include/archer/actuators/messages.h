#pragma once
// The actuation path's messages (schemas/command.fbs, transaction.fbs, event.fbs) as plain owned
// structs, with the only code that builds and reads their FlatBuffers. Parsing verifies the buffer
// (and its file identifier) first: bytes from Kafka or a device are never trusted.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "archer/schemas/command_generated.h"
#include "archer/schemas/event_generated.h"
#include "archer/schemas/transaction_generated.h"

namespace archer::actuators {

using Bytes = std::vector<std::uint8_t>;
using Args = std::vector<std::pair<std::string, std::string>>;
using command::ResponseStatus;
using event::OutcomeStatus;
using transaction::Phase;

// command.fbs declares one file_identifier (Command's); the device protocol's roots carry these.
inline constexpr const char* kDeviceCommandIdentifier = "ADCM";
inline constexpr const char* kDeviceResponseIdentifier = "ADRS";

struct Command {
  std::string id;
  std::string device;
  std::string action;
  Args args;
  std::int64_t issued_at_ms = 0;
  std::int64_t deadline_ms = 0;  // 0: none
};

struct DeviceCommand {
  std::string interaction_id;
  std::string action;
  Args args;
};

struct DeviceResponse {
  std::string interaction_id;
  ResponseStatus status = ResponseStatus::OK;
  std::string detail;
  Bytes payload;
};

struct Transaction {
  std::string interaction_id;
  std::string command_id;
  std::string device;
  Phase phase = Phase::OPENED;
  std::uint32_t attempt = 0;
  Bytes payload;  // OPENED: the Command; SENT: the DeviceCommand; RESPONDED: the DeviceResponse; CLOSED: the outcome
  std::int64_t time_ms = 0;
  std::string detail;
};

struct Outcome {
  std::string command_id;
  std::string interaction_id;
  std::string device;
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

std::optional<Command> decode_command(std::span<const std::uint8_t> bytes);
std::optional<DeviceCommand> decode_device_command(std::span<const std::uint8_t> bytes);
std::optional<DeviceResponse> decode_device_response(std::span<const std::uint8_t> bytes);
std::optional<Transaction> decode_transaction(std::span<const std::uint8_t> bytes);
std::optional<Outcome> decode_outcome(std::span<const std::uint8_t> bytes);

const char* name_of(Phase phase);
const char* name_of(OutcomeStatus status);
const char* name_of(ResponseStatus status);

}  // namespace archer::actuators
