#include "archer/actuators/snapshot.h"

#include <cstring>

#include <fmt/format.h>

#include "archer/schemas/snapshot_generated.h"

namespace archer::actuators {
namespace {

namespace fb = archer::snapshot;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

std::vector<Offset<fb::Position>> positions(FlatBufferBuilder& builder, const LogOffsets& offsets) {
  std::vector<Offset<fb::Position>> out;
  for (const auto& [partition, offset] : offsets) out.push_back(fb::CreatePosition(builder, partition, offset));
  return out;
}

LogOffsets offsets_of(const flatbuffers::Vector<Offset<fb::Position>>* positions) {
  LogOffsets out;
  if (positions == nullptr) return out;
  for (const fb::Position* position : *positions) out[position->partition()] = position->offset();
  return out;
}

std::optional<Bytes> bytes_of(const flatbuffers::Vector<std::uint8_t>* value) {
  if (value == nullptr) return std::nullopt;
  return Bytes(value->begin(), value->end());
}

}  // namespace

std::string snapshot_topic(const std::string& gateway_id) { return "snapshot." + gateway_id; }

std::string snapshot_key(const std::string& section, std::int32_t partition) {
  return fmt::format("{}/{}", section, partition);
}

Bytes encode(const Snapshot& snapshot) {
  FlatBufferBuilder builder;
  std::vector<Offset<fb::Exchange>> exchanges;
  for (const Exchange& exchange : snapshot.exchanges) {
    exchanges.push_back(fb::CreateExchangeDirect(
        builder, exchange.interaction_id.str().c_str(), exchange.command_id.str().c_str(), exchange.device.str().c_str(),
        exchange.attempts, exchange.opened_ms, exchange.response ? &*exchange.response : nullptr,
        exchange.closed ? &*exchange.closed : nullptr, exchange.position.offset));
  }
  std::vector<Offset<fb::Done>> done;
  for (const auto& [command, offset] : snapshot.done) {
    done.push_back(fb::CreateDoneDirect(builder, command.str().c_str(), offset));
  }
  const auto transactions = positions(builder, snapshot.transactions);
  const auto events = positions(builder, snapshot.events);
  fb::FinishActuatorSnapshotBuffer(
      builder, fb::CreateActuatorSnapshotDirect(builder, snapshot.gateway.c_str(), snapshot.section.c_str(),
                                                snapshot.command_partition, snapshot.committed_offset, snapshot.time_ms,
                                                &transactions, &events, &exchanges, &done));
  return Bytes(builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize());
}

std::optional<Snapshot> decode_snapshot(std::span<const std::uint8_t> bytes, std::string* why) {
  // A record value inside a Kafka message set is often misaligned: FlatBuffers needs it aligned.
  // One word more than needed, never none: memcpy must not be given a null pointer, even for 0 bytes.
  std::vector<std::uint64_t> aligned(bytes.size() / 8 + 1);
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  const auto* data = reinterpret_cast<const std::uint8_t*>(aligned.data());
  // Verifier limits (docs/limits.md): a snapshot nests 2 tables deep; it holds a table per open
  // exchange and per finished command above the committed offset, which the gateway does not bound,
  // so the table count keeps flatbuffers' default, stated here.
  constexpr flatbuffers::uoffset_t kMaxDepth = 4;
  constexpr flatbuffers::uoffset_t kMaxTables = 1'000'000;
  flatbuffers::Verifier verifier(data, bytes.size(), kMaxDepth, kMaxTables);
  if (bytes.size() < 8 || !fb::ActuatorSnapshotBufferHasIdentifier(data) || !fb::VerifyActuatorSnapshotBuffer(verifier)) {
    if (why != nullptr) *why = "not an ActuatorSnapshot (ASNP) buffer";
    return std::nullopt;
  }
  const fb::ActuatorSnapshot* root = fb::GetActuatorSnapshot(data);
  Snapshot out;
  out.gateway = root->gateway()->str();
  out.section = root->section()->str();
  out.command_partition = root->command_partition();
  out.committed_offset = root->committed_offset();
  out.time_ms = root->time_ms();
  out.transactions = offsets_of(root->transactions());
  out.events = offsets_of(root->events());
  if (root->exchanges() != nullptr) {
    for (const fb::Exchange* exchange : *root->exchanges()) {
      out.exchanges.push_back(Exchange{InteractionId(exchange->interaction_id()->str()),
                                       CommandId(exchange->command_id()->str()),
                                       DeviceId(exchange->device()->str()),
                                       exchange->attempts(),
                                       exchange->opened_ms(),
                                       bytes_of(exchange->response()),
                                       bytes_of(exchange->closed()),
                                       {out.command_partition, exchange->command_offset()},
                                       /*answered=*/exchange->response() != nullptr});
    }
  }
  if (root->done() != nullptr) {
    for (const fb::Done* done : *root->done()) {
      out.done.emplace_back(CommandId(done->command_id()->str()), done->command_offset());
    }
  }
  return out;
}

}  // namespace archer::actuators
