#include "responder.h"

namespace archer::devsim {

Responder::Responder(const Options& options, DeviceTable& devices, Connections& connections, Stats& stats,
                     std::uint64_t seed)
    : devices_(devices), connections_(connections), stats_(stats), processor_(options, seed) {}

Responder::~Responder() { stop(); }

void Responder::enqueue(std::size_t connection, const mqtt::const_message_ptr& message) {
  const auto device = devices_.find_by_command_topic(message->get_topic());
  // Multiplexed connections all subscribe to the whole command filter: only the device's own one answers.
  if (!device || devices_[*device].connection != connection) return;
  stats_.commands_received.fetch_add(1);
  {
    std::lock_guard lock(mutex_);
    commands_.push_back(Command{*device, message});
  }
  wake_.notify_one();
}

void Responder::start() {
  worker_ = std::thread([this] { work(); });
}

void Responder::stop() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    stats_.commands_unanswered.fetch_add(answers_.size());
    answers_ = {};
  }
  wake_.notify_all();
  worker_.join();
}

void Responder::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    if (!commands_.empty()) {
      Command command = std::move(commands_.front());
      commands_.pop_front();
      lock.unlock();
      decide(command);
      lock.lock();
      continue;
    }
    if (!answers_.empty() && answers_.top().due <= Clock::now()) {
      Answer answer = answers_.top();
      answers_.pop();
      lock.unlock();
      send_answer(answer);
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (answers_.empty()) {
      wake_.wait(lock);
    } else {
      wake_.wait_until(lock, answers_.top().due);
    }
  }
}

void Responder::decide(const Command& command) {
  DeviceSlot& slot = devices_[command.device];
  Decision decision;
  {
    std::lock_guard lock(slot.mutex);
    slot.advance_to(Clock::now());
    decision = processor_.handle(*slot.device, *slot.answered, *command.message, slot.response_topic);
  }
  if (!decision.valid) stats_.commands_invalid.fetch_add(1);
  if (decision.duplicate) stats_.commands_duplicates.fetch_add(1);
  if (decision.performed) stats_.commands_performed.fetch_add(1);
  if (decision.rejected && !decision.duplicate) stats_.commands_rejected.fetch_add(1);
  if (decision.late) stats_.commands_late.fetch_add(1);
  if (!decision.answer) {
    stats_.commands_unanswered.fetch_add(1);
    return;
  }
  if (decision.copies > 1) stats_.commands_twice.fetch_add(1);
  const auto due = Clock::now() + decision.delay;
  std::lock_guard lock(mutex_);
  for (int copy = 0; copy < decision.copies; ++copy) {
    answers_.push(Answer{due + std::chrono::milliseconds(copy), answer_order_++, command.device, decision.reply});
  }
}

void Responder::send_answer(const Answer& answer) {
  if (connections_.publish_answer(devices_[answer.device].connection, answer.message)) {
    stats_.responses_sent.fetch_add(1);
  }
}

}  // namespace archer::devsim
