#pragma once
// Everything an integration test needs:
//   archer::testing::Mosquitto mqtt;   // a real broker on a free loopback port
//   archer::testing::DevKafka kafka;   // archer-devkafka, 3 brokers
#include "archer/testing/devkafka.h"
#include "archer/testing/kafka.h"
#include "archer/testing/mosquitto.h"
#include "archer/testing/process.h"
#include "archer/testing/temp_dir.h"
#include "archer/testing/wait.h"
