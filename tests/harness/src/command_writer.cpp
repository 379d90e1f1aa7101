#include "archer/testing/command_writer.h"

#include <unistd.h>

#include <atomic>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include "archer/schemas/command_generated.h"

namespace archer::testing {

CommandWriter::CommandWriter(const std::string& bootstrap, std::string topic) : topic_(std::move(topic)) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  conf->set("bootstrap.servers", bootstrap, error);
  conf->set("enable.idempotence", "true", error);
  conf->set("message.timeout.ms", "0", error);  // waits out a Kafka outage in fault tests
  conf->set("reconnect.backoff.max.ms", "500", error);
  producer_.reset(RdKafka::Producer::create(conf.get(), error));
  EXPECT_TRUE(producer_) << error;
}

CommandWriter::~CommandWriter() = default;

std::string CommandWriter::write(const std::string& device, const std::string& action,
                                 const std::vector<std::pair<std::string, std::string>>& args, std::int64_t deadline_ms,
                                 const std::string& traceparent) {
  static std::atomic<unsigned> counter{0};
  const std::string id = fmt::format("00000000-0000-7000-8000-{:06}{:06}", ::getpid() % 1000000, ++counter % 1000000);
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<command::Arg>> arg_offsets;
  for (const auto& [name, value] : args) arg_offsets.push_back(command::CreateArgDirect(b, name.c_str(), value.c_str()));
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  command::FinishCommandBuffer(
      b, command::CreateCommandDirect(b, id.c_str(), device.c_str(), action.c_str(), &arg_offsets, now.count(), deadline_ms));
  RdKafka::Headers* headers = RdKafka::Headers::create();
  headers->add("archer-id", id);
  if (!traceparent.empty()) headers->add("traceparent", traceparent);
  const auto err = producer_->produce(topic_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                      b.GetBufferPointer(), b.GetSize(), device.data(), device.size(), 0, headers, nullptr);
  EXPECT_EQ(err, RdKafka::ERR_NO_ERROR);
  if (err != RdKafka::ERR_NO_ERROR) delete headers;
  producer_->poll(0);
  return id;
}

void CommandWriter::flush(std::chrono::milliseconds timeout) {
  EXPECT_EQ(producer_->flush(static_cast<int>(timeout.count())), RdKafka::ERR_NO_ERROR);
}

}  // namespace archer::testing
