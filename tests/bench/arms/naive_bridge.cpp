// The benchmark's "naive" arm: the least an MQTT -> Kafka bridge can do. One Paho C++ client
// subscribed at the given QoS, every message produced as it is to one topic, keyed by the topic's
// second level (devices/{device}/telemetry); no spool, no validation, no headers. librdkafka with
// its defaults plus the properties given. It is what any bridge's cost is compared with: the rest
// of what archer-bridge does (durability, checks, headers) is the difference.
//
//   naive_bridge MQTT_URI BOOTSTRAP FILTER QOS TOPIC [name=value ...]
//
// Prints "ready" once subscribed; SIGTERM or SIGINT: flushes (10 s at most) and exits 0.
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include <librdkafka/rdkafkacpp.h>
#include <mqtt/async_client.h>

#include "device_of.h"

namespace {

using archer::bench::device_of;

volatile std::sig_atomic_t stopping = 0;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: naive_bridge MQTT_URI BOOTSTRAP FILTER QOS TOPIC [name=value ...]\n";
    return 2;
  }
  const std::string uri = argv[1];
  const std::string filter = argv[3];
  const int qos = std::stoi(argv[4]);
  const std::string topic_name = argv[5];

  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", argv[2], error);
  for (int i = 6; i < argc; ++i) {
    const std::string property = argv[i];
    const std::size_t equals = property.find('=');
    if (equals == std::string::npos ||
        conf->set(property.substr(0, equals), property.substr(equals + 1), error) != RdKafka::Conf::CONF_OK) {
      std::cerr << "naive_bridge: bad property " << property << ": " << error << "\n";
      return 2;
    }
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) {
    std::cerr << "naive_bridge: " << error << "\n";
    return 1;
  }
  std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(producer.get(), topic_name, nullptr, error));

  mqtt::async_client client(uri, "bench-naive-bridge", mqtt::create_options(MQTTVERSION_5));
  client.set_message_callback([&](mqtt::const_message_ptr message) {
    const std::string_view device = device_of(message->get_topic());
    const auto& payload = message->get_payload_ref();
    // Waits for room when librdkafka's queue is full, as a bridge that loses nothing must.
    while (producer->produce(topic.get(), RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                             const_cast<char*>(payload.data()), payload.size(), device.data(), device.size(),
                             nullptr) == RdKafka::ERR__QUEUE_FULL) {
      producer->poll(10);
    }
    producer->poll(0);
  });
  auto options = mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true).finalize();
  client.connect(options)->wait();
  client.subscribe(filter, qos)->wait();
  std::cout << "ready" << std::endl;

  std::signal(SIGTERM, [](int) { stopping = 1; });
  std::signal(SIGINT, [](int) { stopping = 1; });
  while (stopping == 0) producer->poll(100);
  client.disconnect()->wait();
  producer->flush(10000);
  return 0;
}
