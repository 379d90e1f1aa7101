// libFuzzer target for decoding a device's answer (archer::protocol::decode_device_response), the
// bytes any device may publish on its response topic. Whatever they are: no crash, no read out of
// bounds, aligned and misaligned alike, with a reason for every refusal; what decodes re-encodes to
// a buffer that decodes to the same response, and maps to an outcome.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>

#include "archer/protocol/messages.h"

namespace {

using archer::protocol::DeviceResponse;

void require(bool condition) {
  if (!condition) std::abort();
}

bool same(const DeviceResponse& a, const DeviceResponse& b) {
  return a.interaction_id == b.interaction_id && a.status == b.status && a.detail == b.detail && a.payload == b.payload;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::unique_ptr<std::uint8_t[]> shifted(new std::uint8_t[size + 1]);
  if (size != 0) std::memcpy(shifted.get() + 1, data, size);

  std::string why;
  const auto response = archer::protocol::decode_device_response({data, size}, &why);
  std::string misaligned_why;
  const auto misaligned = archer::protocol::decode_device_response({shifted.get() + 1, size}, &misaligned_why);
  require(response.has_value() == misaligned.has_value() && why == misaligned_why);
  if (!response) {
    require(!why.empty());
    return 0;
  }
  require(same(*response, *misaligned));
  (void)archer::protocol::name_of(response->status);
  (void)archer::protocol::outcome_of(response->status);

  const auto again = archer::protocol::decode_device_response(archer::protocol::encode(*response), &why);
  require(again.has_value() && same(*response, *again));
  return 0;
}
