#pragma once
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace archer::testing {

struct ProcessOptions {
  bool stdin_pipe = false;              // else stdin is /dev/null
  bool capture_stdout = true;           // else stdout goes where stderr goes
  std::filesystem::path stderr_file;    // empty: inherit the test's stderr
  std::vector<std::string> extra_env;   // "NAME=value" entries added to the environment

  // Chainable setters, e.g. Process p(argv, ProcessOptions{}.with_stdin().with_stderr_file(dir / "x.err"));
  // (GCC warns about designated initializers that leave out trailing members.)
  ProcessOptions& with_stdin() { stdin_pipe = true; return *this; }
  ProcessOptions& without_stdout_capture() { capture_stdout = false; return *this; }
  ProcessOptions& with_stderr_file(std::filesystem::path path) { stderr_file = std::move(path); return *this; }
  ProcessOptions& with_env(std::string name_value) { extra_env.push_back(std::move(name_value)); return *this; }
};

// A child process (fork/exec). stdout is a pipe read line by line with deadlines; stdin optionally a
// pipe. All descriptors are O_CLOEXEC, the child is always reaped: the destructor terminates it
// (SIGTERM, then SIGKILL after 5 s). If the test process dies without running destructors (crash,
// ctest timeout), the child gets SIGTERM (PR_SET_PDEATHSIG; this fires when the *thread* that created
// the Process exits, so create long-lived ones on the test's main thread).
// Exit statuses: the exit code, or 128 + signal number.
class Process {
 public:
  // argv[0] is the program path (PATH is searched when it has no slash). Throws std::runtime_error,
  // also when the program cannot be executed.
  explicit Process(std::vector<std::string> argv, ProcessOptions options = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::vector<std::string>& argv() const { return argv_; }
  const std::filesystem::path& stderr_file() const { return options_.stderr_file; }
  // True while the child has not been reaped (a child that exited is reaped here).
  bool running();

  // stdin (needs stdin_pipe). Returns false when the child no longer reads.
  bool write_stdin(std::string_view data);
  bool write_line(std::string_view line);  // appends '\n'
  void close_stdin();

  // Next stdout line without its '\n'; nullopt on timeout or at EOF (see stdout_eof()).
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Everything up to EOF (or whatever arrived before the timeout).
  std::string read_all(std::chrono::milliseconds timeout);
  bool stdout_eof() const { return stdout_eof_; }

  void kill(int signal);
  // Waits for the child to exit; its status, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status (also when already exited).
  int terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));
  std::optional<int> exit_status() const { return status_; }

 private:
  bool fill_stdout(std::chrono::steady_clock::time_point deadline);
  void close_fds();

  std::vector<std::string> argv_;
  ProcessOptions options_;
  pid_t pid_ = -1;
  std::optional<int> status_;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string stdout_buffer_;
  bool stdout_eof_ = false;
};

// The file's contents, or "" if it cannot be read (for failure messages).
std::string read_file(const std::filesystem::path& path);

}  // namespace archer::testing
