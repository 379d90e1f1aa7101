#pragma once
// Everything an integration test needs:
//   archer::testing::Mosquitto mqtt;   // a real broker on a free loopback port
//   archer::testing::DevKafka kafka;   // archer-devkafka, 3 brokers
//   archer::testing::ApacheKafka real; // a real Apache Kafka node (see ApacheKafka::available)
#include "archer/testing/apache_kafka.h"
#include "archer/testing/devkafka.h"
#include "archer/testing/kafka.h"
#include "archer/testing/kafka_cluster.h"
#include "archer/testing/mosquitto.h"
#include "archer/testing/process.h"
#include "archer/testing/temp_dir.h"
#include "archer/testing/wait.h"
