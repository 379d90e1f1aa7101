#!/usr/bin/python3
"""The benchmark's "script" arm: a fair MQTT -> Kafka bridge in Python, as a team would first write
one, with Debian's paho-mqtt (1.6) and confluent-kafka (librdkafka underneath). Every message is
produced as it is, keyed by the topic's second level; no spool, no validation, no headers.

  script_bridge.py MQTT_HOST MQTT_PORT BOOTSTRAP FILTER QOS TOPIC [name=value ...]

Prints "ready" once subscribed; SIGTERM or SIGINT: flushes (10 s at most) and exits 0.
"""
import signal
import sys

import paho.mqtt.client as mqtt
from confluent_kafka import Producer


def main():
    if len(sys.argv) < 7:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, bootstrap, topic_filter, qos, topic = sys.argv[1:7]
    conf = {"bootstrap.servers": bootstrap}
    for prop in sys.argv[7:]:
        name, _, value = prop.partition("=")
        conf[name] = value
    producer = Producer(conf)
    stopping = []

    def on_message(_client, _userdata, message):
        device = message.topic.split("/")[1] if message.topic.count("/") >= 1 else message.topic
        while True:
            try:
                producer.produce(topic, message.payload, device)
                break
            except BufferError:  # librdkafka's queue is full: wait for room, lose nothing
                producer.poll(0.01)
        producer.poll(0)

    def on_subscribe(_client, _userdata, _mid, _granted, _properties=None):
        print("ready", flush=True)

    client = mqtt.Client(client_id="bench-script-bridge", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.connect(host, int(port))
    client.subscribe(topic_filter, int(qos))
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    client.loop_start()
    while not stopping:
        producer.poll(0.1)
    client.loop_stop()
    client.disconnect()
    producer.flush(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
