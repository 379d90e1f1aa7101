#pragma once
// The devices' side of the command protocol at run time: requests from the connections are read,
// decided and answered by the CommandProcessor (the shared device side of the protocol plus this
// simulator's choices: act once, reject, stay silent, answer late or twice), and the answers are
// published at their due time.
// Threads: enqueue() runs on Paho's threads and only queues; deciding and answering run on the
// responder's own worker thread, between start() and stop().
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include <mqtt/async_client.h>

#include "archer/devsim/commands.h"
#include "archer/devsim/options.h"
#include "archer/devsim/stats.h"
#include "connections.h"
#include "device_table.h"

namespace archer::devsim {

class Responder {
 public:
  // Everything given must outlive it; `seed` seeds the CommandProcessor's choices.
  Responder(const Options& options, DeviceTable& devices, Connections& connections, Stats& stats, std::uint64_t seed);
  ~Responder();  // stop()s
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  // A message on `connection`'s command subscription: queued when it is a command for one of that
  // connection's devices, ignored otherwise.
  void enqueue(std::size_t connection, const mqtt::const_message_ptr& message);

  void start();
  // Ends the worker. Answers not yet due are dropped and counted unanswered: the run is over.
  void stop();

 private:
  struct Command {
    std::size_t device;
    mqtt::const_message_ptr message;  // read on the worker, not on Paho's thread
  };
  struct Answer {
    Clock::time_point due;
    std::uint64_t order;
    std::size_t device;
    mqtt::message_ptr message;
    bool operator>(const Answer& other) const { return due != other.due ? due > other.due : order > other.order; }
  };

  void work();
  void decide(const Command& command);
  void send_answer(const Answer& answer);

  DeviceTable& devices_;
  Connections& connections_;
  Stats& stats_;
  CommandProcessor processor_;  // worker thread only

  std::mutex mutex_;  // guards the queues and stopping_
  std::condition_variable wake_;
  std::deque<Command> commands_;
  std::priority_queue<Answer, std::vector<Answer>, std::greater<>> answers_;
  std::uint64_t answer_order_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace archer::devsim
