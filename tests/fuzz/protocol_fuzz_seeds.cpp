// Writes seeds for the device_response and transaction fuzzers into the directory given: each
// actuation message made by the encoder (Commands, DeviceCommands, DeviceResponses, Transactions of
// every phase, CommandOutcomes), and, for the transaction target's record sequences, a few logs of
// one exchange as length-prefixed records. Run at build time, so no binary is committed.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "archer/protocol/messages.h"
#include "seed_files.h"

namespace {

using archer::fuzz::write_seed;

using namespace archer::protocol;

// The transaction fuzzer's framing: a 2-byte little-endian length before each record.
Bytes framed(const std::vector<Bytes>& records) {
  Bytes out;
  for (const Bytes& record : records) {
    out.push_back(static_cast<std::uint8_t>(record.size() & 0xff));
    out.push_back(static_cast<std::uint8_t>(record.size() >> 8));
    out.insert(out.end(), record.begin(), record.end());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = archer::fuzz::seed_dir(argc, argv);
  const Command command{
      CommandId("01J0000000000000000000CMD1"), DeviceId("valve-0001"), "open", {{"percent", "40"}}, 1764000000000, 0};
  const DeviceCommand request{InteractionId("01J0000000000000000000INT1"), "open", {{"percent", "40"}}};
  const DeviceResponse ok{request.interaction_id, ResponseStatus::OK, "opened", {1, 2, 3}};
  const DeviceResponse rejected{request.interaction_id, ResponseStatus::REJECTED, "percent out of range", {}};
  const Outcome outcome{command.id, request.interaction_id, command.device, OutcomeStatus::SUCCEEDED, encode(ok), 12,
                        ""};
  write_seed(dir, "command", encode(command));
  write_seed(dir, "device-command", encode(request));
  write_seed(dir, "response-ok", encode(ok));
  write_seed(dir, "response-rejected", encode(rejected));
  write_seed(dir, "outcome", encode(outcome));

  auto record = [&](Phase phase, std::uint32_t attempt, Bytes payload, std::string detail) {
    return encode(Transaction{request.interaction_id, command.id, command.device, phase, attempt, std::move(payload),
                              1764000000000 + attempt, std::move(detail), 0, 7});
  };
  const Bytes opened = record(Phase::OPENED, 0, encode(command), "");
  const Bytes sent = record(Phase::SENT, 1, encode(request), "");
  const Bytes resent = record(Phase::SENT, 2, encode(request), "");
  const Bytes responded = record(Phase::RESPONDED, 2, encode(ok), "");
  const Bytes closed = record(Phase::CLOSED, 2, encode(outcome), "");
  const Bytes timed_out = record(Phase::TIMED_OUT, 3, {}, "no answer after 3 attempts");
  write_seed(dir, "tx-opened", opened);
  write_seed(dir, "tx-responded", responded);
  write_seed(dir, "tx-timed-out", timed_out);
  write_seed(dir, "log-exchange", framed({opened, sent, resent, responded, closed}));
  write_seed(dir, "log-repeated", framed({closed, opened, opened, responded, timed_out}));
  // Regressions found by the fuzzers: a record with an empty interaction id (the view's entry kept
  // no command id), and two commands sharing one interaction id.
  Transaction anonymous{InteractionId(""), command.id, command.device, Phase::OPENED, 0, {}, 1, "", 0, 7};
  write_seed(dir, "regression-empty-interaction", framed({encode(anonymous)}));
  Transaction other{request.interaction_id,
                    CommandId("01J0000000000000000000CMD2"),
                    command.device,
                    Phase::OPENED,
                    0,
                    {},
                    2,
                    "",
                    0,
                    8};
  Transaction moved = anonymous;
  moved.interaction_id = InteractionId("01J0000000000000000000INT2");
  write_seed(dir, "regression-shared-interaction", framed({opened, encode(other), encode(moved), sent}));
  Bytes legacy = encode(ok);
  legacy[4] = 'A', legacy[5] = 'C', legacy[6] = 'M', legacy[7] = 'D';  // command.fbs's identifier, still accepted
  write_seed(dir, "response-legacy-identifier", legacy);
  return 0;
}
