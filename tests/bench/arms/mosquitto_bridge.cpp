// The benchmark's "mosq" arm: the naive bridge (naive_bridge.cpp) with libmosquitto, the library of
// mosquitto_sub (the limit arm), in place of Paho. Same work: one client subscribed at the given QoS,
// every message produced as it is to one topic, keyed by the topic's second level; no spool, no
// validation, no headers. It measures what the MQTT library costs per message: the difference between
// this arm and the naive one is Paho's.
//
//   mosquitto_bridge HOST PORT BOOTSTRAP FILTER QOS TOPIC
//
// Prints "ready" once subscribed; SIGTERM or SIGINT: flushes (10 s at most) and exits 0.
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include <librdkafka/rdkafkacpp.h>
#include <mosquitto.h>

#include "device_of.h"

namespace {

using archer::bench::device_of;

volatile std::sig_atomic_t stopping = 0;

struct Bridge {
  RdKafka::Producer* producer = nullptr;
  RdKafka::Topic* topic = nullptr;
  std::string filter;
  int qos = 1;
};

void on_connect(mosquitto* client, void* context, int rc) {
  auto* bridge = static_cast<Bridge*>(context);
  if (rc == 0) mosquitto_subscribe(client, nullptr, bridge->filter.c_str(), bridge->qos);
}

void on_subscribe(mosquitto*, void*, int, int, const int*) { std::cout << "ready" << std::endl; }

void on_message(mosquitto*, void* context, const mosquitto_message* message) {
  auto* bridge = static_cast<Bridge*>(context);
  const std::string_view device = device_of(message->topic);
  // Waits for room when librdkafka's queue is full, as a bridge that loses nothing must.
  while (bridge->producer->produce(bridge->topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                   message->payload, static_cast<std::size_t>(message->payloadlen), device.data(),
                                   device.size(), nullptr) == RdKafka::ERR__QUEUE_FULL) {
    bridge->producer->poll(10);
  }
  bridge->producer->poll(0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::cerr << "usage: mosquitto_bridge HOST PORT BOOTSTRAP FILTER QOS TOPIC\n";
    return 2;
  }
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", argv[3], error);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) {
    std::cerr << "mosquitto_bridge: " << error << "\n";
    return 1;
  }
  std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(producer.get(), argv[6], nullptr, error));
  Bridge bridge{producer.get(), topic.get(), argv[4], std::stoi(argv[5])};

  mosquitto_lib_init();
  mosquitto* client = mosquitto_new("bench-mosquitto-bridge", true, &bridge);
  mosquitto_int_option(client, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_connect_callback_set(client, on_connect);
  mosquitto_subscribe_callback_set(client, on_subscribe);
  mosquitto_message_callback_set(client, on_message);
  if (const int rc = mosquitto_connect(client, argv[1], std::stoi(argv[2]), 60); rc != MOSQ_ERR_SUCCESS) {
    std::cerr << "mosquitto_bridge: connect: " << mosquitto_strerror(rc) << "\n";
    return 1;
  }
  std::signal(SIGTERM, [](int) { stopping = 1; });
  std::signal(SIGINT, [](int) { stopping = 1; });
  // One thread: network, callbacks and the producer's delivery reports, as mosquitto_sub does.
  while (stopping == 0) {
    const int rc = mosquitto_loop(client, 100, 1);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) mosquitto_reconnect(client);
    producer->poll(0);
  }
  mosquitto_disconnect(client);
  mosquitto_destroy(client);
  mosquitto_lib_cleanup();
  producer->flush(10000);
  return 0;
}
