#pragma once
// What a simulated device does with a request: read it and build its answer with the shared device
// side of the protocol (archer/protocol/device_side.h), and in between decide as this simulator does:
// act once, reject, stay silent, answer late or twice, at the options' ratios. Pure logic (no
// connection, no thread), used by the fleet's responder and by the unit tests.
#include <chrono>
#include <cstdint>
#include <random>
#include <string_view>

#include <mqtt/message.h>

#include "archer/devsim/device.h"
#include "archer/devsim/faults.h"
#include "archer/devsim/options.h"
#include "archer/protocol/device_side.h"

namespace archer::devsim {

struct Decision {
  protocol::InteractionId interaction_id;  // the CorrelationData when the payload could not be read
  protocol::Bytes response;                // the DeviceResponse ("ADRS")
  mqtt::message_ptr reply;                 // `response`, ready to publish; null when not answered
  bool valid = true;                       // the payload verified as a DeviceCommand
  bool duplicate = false;                  // seen before: answered as before, not acted on
  bool performed = false;                  // the device acted
  bool rejected = false;                   // status REJECTED
  bool answer = true;                      // false: never answered (on purpose)
  bool late = false;
  int copies = 1;  // 2: answered twice
  std::chrono::milliseconds delay{0};
};

class CommandProcessor {
 public:
  CommandProcessor(const Options& options, std::uint64_t seed);

  // `request` arrived on `device`'s command topic; a request without a ResponseTopic is answered on
  // `own_response_topic`. `device` has been advanced to now by the caller, who holds its lock (and
  // that of `answered`, the device's own memory of answers).
  Decision handle(Device& device, protocol::AnsweredInteractions& answered, const mqtt::message& request,
                  std::string_view own_response_topic);

 private:
  std::chrono::milliseconds latency();

  const Options& options_;
  std::mt19937_64 random_;
  RatioPicker outcome_;  // reject, no answer, else normal
  RatioPicker late_;
  RatioPicker twice_;
};

}  // namespace archer::devsim
