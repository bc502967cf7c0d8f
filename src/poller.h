// What the pump waits on: the sockets libcurl asks to watch, and a doorbell other threads ring.
// This is the only OS-specific part of the addon (Linux: epoll and an eventfd); a kqueue or poll()
// version for another OS would replace poller.cc alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ned {

class Poller {
 public:
  struct Ready {
    int fd;
    bool in;
    bool out;
    bool error;
  };

  Poller() = default;
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;
  ~Poller();

  bool Init(std::string* error);

  // Watches `fd` for reading and/or writing (libcurl's CURL_POLL_*).
  void Watch(int fd, bool in, bool out);
  // Between two transfers on a kept-alive connection (libcurl's CURL_POLL_REMOVE): left registered,
  // so the next transfer's Watch() is one system call and this is none; dropped if it stirs first.
  void Rest(int fd);

  // Any thread. Wakes Wait(); rings coalesce until Wait() returns.
  void Ring();

  // Waits up to `timeout_ms` (0: poll) for ready sockets or the doorbell. Resting sockets that stir
  // (the server closed them, say) are unwatched here; libcurl sees it when it next uses them.
  // Returns the ready sockets in `ready`; `*rung` tells whether the doorbell rang.
  void Wait(int timeout_ms, std::vector<Ready>* ready, bool* rung);

 private:
  int epoll_fd_ = -1;
  int bell_fd_ = -1;
  std::vector<uint8_t> resting_;  // by fd
};

}  // namespace ned
