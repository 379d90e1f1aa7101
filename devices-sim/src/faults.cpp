#include "archer/devsim/faults.h"

#include "archer/schemas/command_generated.h"

namespace archer::devsim {

RatioPicker::RatioPicker(std::vector<double> ratios) : ratios_(std::move(ratios)) {
  double total = 0;
  for (double r : ratios_) total += r;
  ratios_.push_back(total < 1 ? 1 - total : 0);
  credit_.assign(ratios_.size(), 0);
}

std::size_t RatioPicker::pick() {
  // Every choice earns its ratio; the richest pays one. Exact to +-1 per choice over any prefix.
  std::size_t best = 0;
  for (std::size_t i = 0; i < ratios_.size(); ++i) {
    credit_[i] += ratios_[i];
    if (credit_[i] > credit_[best]) best = i;
  }
  credit_[best] -= 1;
  return best;
}

namespace {
std::vector<double> fault_ratios(const Options& options) {
  std::vector<double> ratios;
  for (int i = 1; i < kFaultCount; ++i) ratios.push_back(options.fault_ratio[i]);
  return ratios;
}
}  // namespace

FaultPicker::FaultPicker(const Options& options) : picker_(fault_ratios(options)) {}

Fault FaultPicker::pick() {
  const std::size_t choice = picker_.pick();
  if (choice + 1 >= static_cast<std::size_t>(kFaultCount)) return Fault::none;
  return static_cast<Fault>(choice + 1);
}

std::string fault_payload(Fault fault, const Device& device, const Stamp& stamp, bool json, std::uint64_t oversize_bytes,
                          std::mt19937_64& random) {
  switch (fault) {
    case Fault::none:
      return json ? device.encode_json(stamp, device.id()) : device.encode_binary(stamp, device.id());
    case Fault::random_bytes: {
      std::uniform_int_distribution<int> length(16, 256);
      std::uniform_int_distribution<int> byte(0, 255);
      std::string out(static_cast<std::size_t>(length(random)), '\0');
      for (char& c : out) c = static_cast<char>(byte(random));
      if (out.compare(4, 4, "ATEL") == 0) out[4] = 'x';
      if (out[0] == '{') out[0] = 'x';
      return out;
    }
    case Fault::truncated: {
      std::string good = device.encode_binary(stamp, device.id());
      good.resize(good.size() / 2);
      return good;
    }
    case Fault::wrong_schema: {
      flatbuffers::FlatBufferBuilder fbb(256);
      std::vector<flatbuffers::Offset<archer::command::Arg>> args = {
          archer::command::CreateArgDirect(fbb, "percent", "50")};
      auto command = archer::command::CreateCommandDirect(fbb, "00000000-0000-7000-8000-000000000000", device.id().c_str(),
                                                          "set", &args, stamp.sent_at_ms);
      archer::command::FinishCommandBuffer(fbb, command);
      return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
    }
    case Fault::wrong_device: {
      const std::string other = device.id() + "-other";
      return json ? device.encode_json(stamp, other) : device.encode_binary(stamp, other);
    }
    case Fault::oversize: {
      std::string good = device.encode_binary(stamp, device.id());
      std::uniform_int_distribution<std::uint64_t> extra(1, 1024);
      good.resize(static_cast<std::size_t>(oversize_bytes + extra(random)), '\0');
      return good;
    }
    case Fault::bad_json: {
      std::string good = device.encode_json(stamp, device.id());
      good.pop_back();
      return good;
    }
  }
  return {};
}

}  // namespace archer::devsim
