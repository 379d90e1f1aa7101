#pragma once
// The boundary of every callback a library makes into our code (Paho, librdkafka, Boost.Asio
// handlers): an exception must never unwind through a library's C frames, which terminates the
// process. `guarded` runs the callback, and if it throws, counts it (archer_callback_exceptions_total,
// once a counter is attached) and logs it, at most one line per second per process.
#include <exception>
#include <string_view>

namespace archer {

class Counter;

// Where failures are counted from now on (the daemon's metrics registry); may be null.
void attach_callback_failure_counter(Counter* counter);
// Counts and logs (rate-limited) one callback that threw.
void note_callback_failure(std::string_view where, std::string_view what) noexcept;

template <class Callback>
void guarded(std::string_view where, Callback&& callback) noexcept {
  try {
    callback();
  } catch (const std::exception& failure) {
    note_callback_failure(where, failure.what());
  } catch (...) {
    note_callback_failure(where, "an exception that is not a std::exception");
  }
}

// Runs an event loop (a boost::asio::io_context) until it is stopped. A handler that throws unwinds
// out of run(): it is counted and logged like any callback, and the loop goes on.
template <class Loop>
void run_guarded(std::string_view where, Loop& loop) {
  while (true) {
    try {
      loop.run();
      return;
    } catch (const std::exception& failure) {
      note_callback_failure(where, failure.what());
    } catch (...) {
      note_callback_failure(where, "an exception that is not a std::exception");
    }
  }
}

}  // namespace archer
