#include "archer/testing/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "archer/testing/wait.h"

extern char** environ;

namespace archer::testing {
namespace {

std::runtime_error sys_error(const std::string& what, int err) {
  return std::runtime_error(what + ": " + std::strerror(err));
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// argv[0] with a slash as is, else the first executable match on $PATH.
std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    std::string candidate = std::string(dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return name;  // execve reports ENOENT
}

}  // namespace

Process::Process(std::vector<std::string> argv, ProcessOptions options)
    : argv_(std::move(argv)), options_(std::move(options)) {
  if (argv_.empty()) throw std::invalid_argument("Process: empty argv");

  // stdin is a socket pair rather than a pipe so that writes can use MSG_NOSIGNAL: a child that died
  // must not take the test down with SIGPIPE.
  int stdin_pair[2] = {-1, -1};
  int stdout_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {stdin_pair[0], stdin_pair[1], stdout_pipe[0], stdout_pipe[1]}) {
      if (fd >= 0) close(fd);
    }
  };
  if (options_.stdin_pipe && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stdin_pair) != 0) {
    throw sys_error("socketpair", errno);
  }
  if (options_.capture_stdout && pipe2(stdout_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    close_all();
    throw sys_error("pipe2", err);
  }
  if (options_.stdin_pipe) shutdown(stdin_pair[0], SHUT_WR);

  // Everything the child needs is prepared before fork(): after it, only async-signal-safe calls.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (const auto& extra : options_.extra_env) env_storage.push_back(extra);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string program = resolve_program(argv_[0]);
  const std::string stderr_path = options_.stderr_file.string();

  int exec_error[2] = {-1, -1};  // the child reports a failed exec through this pipe
  if (pipe2(exec_error, O_CLOEXEC) != 0) {
    const int err = errno;
    close_all();
    throw sys_error("pipe2", err);
  }
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) {
    const int err = errno;
    close_all();
    close(exec_error[0]);
    close(exec_error[1]);
    throw sys_error("fork", err);
  }
  if (pid_ == 0) {
    // Child. If the test process dies (crash, SIGKILL, ctest timeout), the child gets SIGTERM.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    auto fail = [&](int err) {
      [[maybe_unused]] auto ignored = write(exec_error[1], &err, sizeof err);
      _exit(127);
    };
    int stdin_fd = options_.stdin_pipe ? stdin_pair[0] : open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (stdin_fd < 0 || dup2(stdin_fd, STDIN_FILENO) < 0) fail(errno);
    if (!stderr_path.empty()) {
      const int fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) fail(errno);
    }
    if (dup2(options_.capture_stdout ? stdout_pipe[1] : STDERR_FILENO, STDOUT_FILENO) < 0) fail(errno);
    execve(program.c_str(), args.data(), envp.data());
    fail(errno);
  }
  close(exec_error[1]);
  int child_errno = 0;
  ssize_t n;
  while ((n = read(exec_error[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  close(exec_error[0]);
  if (n > 0) {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    close_all();
    throw sys_error("exec " + program, child_errno);
  }
  if (options_.stdin_pipe) {
    close(stdin_pair[0]);
    stdin_fd_ = stdin_pair[1];
  }
  if (options_.capture_stdout) {
    close(stdout_pipe[1]);
    stdout_fd_ = stdout_pipe[0];
  } else {
    stdout_eof_ = true;
  }
}

Process::~Process() {
  if (pid_ > 0 && !status_) terminate();
  close_fds();
}

void Process::close_fds() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  if (stdout_fd_ >= 0) close(stdout_fd_);
  stdin_fd_ = stdout_fd_ = -1;
}

bool Process::running() {
  if (status_) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = decode_status(status);
    return false;
  }
  return true;
}

bool Process::write_stdin(std::string_view data) {
  if (stdin_fd_ < 0) return false;
  while (!data.empty()) {
    const ssize_t n = send(stdin_fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool Process::write_line(std::string_view line) {
  std::string buffer(line);
  buffer.push_back('\n');
  return write_stdin(buffer);
}

void Process::close_stdin() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

bool Process::fill_stdout(std::chrono::steady_clock::time_point deadline) {
  if (stdout_fd_ < 0 || stdout_eof_) return false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{stdout_fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::max<long long>(0, left.count())));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    char buffer[4096];
    const ssize_t n = read(stdout_fd_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      stdout_eof_ = true;
      return false;
    }
    stdout_buffer_.append(buffer, static_cast<size_t>(n));
    return true;
  }
}

std::optional<std::string> Process::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto newline = stdout_buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = stdout_buffer_.substr(0, newline);
      stdout_buffer_.erase(0, newline + 1);
      return line;
    }
    if (!fill_stdout(deadline)) {
      if (stdout_eof_ && !stdout_buffer_.empty()) {  // a last line without '\n'
        return std::exchange(stdout_buffer_, std::string());
      }
      return std::nullopt;
    }
  }
}

std::string Process::read_all(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fill_stdout(deadline)) {
  }
  return std::exchange(stdout_buffer_, std::string());
}

void Process::kill(int signal) {
  if (pid_ > 0 && !status_) ::kill(pid_, signal);
}

std::optional<int> Process::wait_exit(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  wait_until([this] { return !running(); }, timeout, std::chrono::milliseconds(5));
  return status_;
}

int Process::terminate(std::chrono::milliseconds grace) {
  if (status_) return *status_;
  kill(SIGTERM);
  if (auto status = wait_exit(grace)) return *status;
  kill(SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = decode_status(status);
  return *status_;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace archer::testing
