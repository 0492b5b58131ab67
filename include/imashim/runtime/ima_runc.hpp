// ima-runc's commands: create, run and delete with the IMA steps; everything
// else handed to the real runc unchanged.
#pragma once

#include <string>
#include <vector>

#include "imashim/runtime/lifecycle.hpp"
#include "imashim/runtime/runc_cli.hpp"

namespace imashim::runtime {

// The whole program: parses argv and runs the command. Returns the exit code
// (runc's own for pass-through and failed runc calls; the container's for a
// foreground `run`; 1 for an imashim error, already reported).
int ima_runc_main(std::vector<std::string> argv, const Pipeline& pipeline);

// `run` in the foreground: waits for the container's init (ima-runc is its
// subreaper), forwarding signals and, with a terminal, proxying the console.
struct ForegroundOptions {
  bool proxy_console = false;
  int console_master = -1;  // the pty master received on our console socket
};
int wait_foreground(pid_t init_pid, const ForegroundOptions& options);

// A console socket of our own (for `run` with a terminal and no
// --console-socket): listens at a fresh path, receives runc's pty master.
class ConsoleSocket {
 public:
  static Result<ConsoleSocket> listen();
  ConsoleSocket(ConsoleSocket&&) noexcept;
  ConsoleSocket& operator=(ConsoleSocket&&) = delete;
  ~ConsoleSocket();
  const std::string& path() const { return path_; }
  // Waits for runc to connect and send the master; gives up when `runc_pid`
  // exits first. Returns the master fd (caller owns it).
  Result<int> receive_master(pid_t runc_pid);

 private:
  ConsoleSocket(int fd, std::string dir, std::string path) : fd_(fd), dir_(std::move(dir)), path_(std::move(path)) {}
  int fd_ = -1;
  std::string dir_;
  std::string path_;
};

}  // namespace imashim::runtime
