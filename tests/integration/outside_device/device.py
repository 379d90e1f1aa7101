#!/usr/bin/python3
"""A device written by someone else: from docs/devices.md and the published schemas alone.

Its FlatBuffers code is generated at test time by `flatc --python` from schemas/device_command.fbs and
schemas/device_response.fbs into GENERATED_DIR; it speaks MQTT with Debian's paho-mqtt. Nothing here
comes from the gateway's own code.

    device.py --uri tcp://127.0.0.1:1883 --generated GENERATED_DIR [--mqtt 5|3] [--devices d1,d2,...]

It answers every DeviceCommand on devices/<id>/commands with a DeviceResponse (status OK, or REJECTED
for an action it does not know), to the request's ResponseTopic with its CorrelationData (MQTT 5), or
to devices/<id>/responses (3.1.1). A repeated interaction id gets the same answer, without acting
again. It prints "ready" once subscribed, and "acted <device> <interaction id> <action>" for every
action it performs, on stdout.
"""
import argparse
import sys
import threading
from urllib.parse import urlparse

import flatbuffers
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

parser = argparse.ArgumentParser()
parser.add_argument("--uri", required=True)
parser.add_argument("--generated", required=True)
parser.add_argument("--mqtt", default="5", choices=["5", "3"])
parser.add_argument("--devices", default="")
args = parser.parse_args()
sys.path.insert(0, args.generated)

from archer.command import DeviceCommand, DeviceResponse, ResponseStatus  # noqa: E402

KNOWN_ACTIONS = {"open", "close", "set", "ping"}
answered = {}  # interaction id -> the response bytes given
lock = threading.Lock()


def response_bytes(interaction_id, status, detail):
    builder = flatbuffers.Builder(128)
    interaction = builder.CreateString(interaction_id)
    text = builder.CreateString(detail)
    DeviceResponse.Start(builder)
    DeviceResponse.AddInteractionId(builder, interaction)
    DeviceResponse.AddStatus(builder, status)
    DeviceResponse.AddDetail(builder, text)
    # device_response.fbs: file_identifier "ADRS"
    builder.Finish(DeviceResponse.End(builder), file_identifier=b"ADRS")
    return bytes(builder.Output())


def on_message(client, userdata, message):
    device = message.topic.split("/")[1]
    payload = message.payload
    if len(payload) < 8 or not DeviceCommand.DeviceCommand.DeviceCommandBufferHasIdentifier(payload, 0):
        print(f"not a DeviceCommand on {message.topic}", file=sys.stderr, flush=True)
        return
    command = DeviceCommand.DeviceCommand.GetRootAs(payload, 0)
    interaction_id = command.InteractionId().decode()
    action = command.Action().decode()
    with lock:
        reply = answered.get(interaction_id)
        if reply is None:
            if action in KNOWN_ACTIONS:
                print(f"acted {device} {interaction_id} {action}", flush=True)
                reply = response_bytes(interaction_id, ResponseStatus.ResponseStatus.OK, "done")
            else:
                reply = response_bytes(interaction_id, ResponseStatus.ResponseStatus.REJECTED, f"unknown action {action}")
            answered[interaction_id] = reply
    properties = getattr(message, "properties", None)
    if args.mqtt == "5":
        topic = getattr(properties, "ResponseTopic", None) or f"devices/{device}/responses"
        out = Properties(PacketTypes.PUBLISH)
        correlation = getattr(properties, "CorrelationData", None)
        if correlation is not None:
            out.CorrelationData = correlation
        client.publish(topic, reply, qos=1, properties=out)
    else:
        client.publish(f"devices/{device}/responses", reply, qos=1)


def on_connect(client, userdata, flags, reason, properties=None):
    filters = [f"devices/{d}/commands" for d in args.devices.split(",") if d] or ["devices/+/commands"]
    for topic in filters:
        client.subscribe(topic, qos=1)
    client.subscribed_filters = len(filters)


def on_subscribe(client, userdata, mid, *rest):
    client.subscribed_filters -= 1
    if client.subscribed_filters == 0:
        print("ready", flush=True)


uri = urlparse(args.uri)
version = mqtt.MQTTv5 if args.mqtt == "5" else mqtt.MQTTv311
client = mqtt.Client(client_id=f"outside-device-{args.mqtt}", protocol=version)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect(uri.hostname, uri.port or 1883)
client.loop_forever()
