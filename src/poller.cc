#include "poller.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ned {

namespace {
constexpr int kMaxEvents = 256;
}  // namespace

Poller::~Poller() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (bell_fd_ >= 0) close(bell_fd_);
}

bool Poller::Init(std::string* error) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  bell_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || bell_fd_ < 0) {
    *error = std::string("cannot create the pump's poller: ") + std::strerror(errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = bell_fd_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, bell_fd_, &ev) != 0) {
    *error = std::string("cannot watch the pump's doorbell: ") + std::strerror(errno);
    return false;
  }
  return true;
}

void Poller::Watch(int fd, bool in, bool out) {
  if (fd < 0) return;
  if (static_cast<size_t>(fd) >= resting_.size()) resting_.resize(fd + 64, 0);
  resting_[fd] = 0;
  epoll_event ev{};
  ev.data.fd = fd;
  ev.events = (in ? EPOLLIN : 0u) | (out ? EPOLLOUT : 0u);
  // MOD first: a kept-alive socket is already registered (parked), so this is one syscall.
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
}

void Poller::Rest(int fd) {
  if (fd < 0) return;
  if (static_cast<size_t>(fd) >= resting_.size()) resting_.resize(fd + 64, 0);
  // No system call: the socket stays registered as it was. Wait() drops it if it stirs before the
  // next transfer watches it (the server closed it, say); if libcurl closes it, the kernel drops
  // it, and Watch() adds its number again when it comes back.
  resting_[fd] = 1;
}

void Poller::Ring() {
  const uint64_t one = 1;
  ssize_t n;
  do {
    n = write(bell_fd_, &one, sizeof(one));
  } while (n < 0 && errno == EINTR);
}

void Poller::Wait(int timeout_ms, std::vector<Ready>* ready, bool* rung) {
  epoll_event events[kMaxEvents];
  ready->clear();
  *rung = false;
  const int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    if (fd == bell_fd_) {
      uint64_t value;
      ssize_t r = read(bell_fd_, &value, sizeof(value));
      (void)r;
      *rung = true;
      continue;
    }
    if (static_cast<size_t>(fd) < resting_.size() && resting_[fd]) {
      // No transfer wants it: unwatched until one does (a level-triggered report would come
      // back on every wait). Whatever is to be read stays in the socket for libcurl.
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      resting_[fd] = 0;
      continue;
    }
    const uint32_t e = events[i].events;
    ready->push_back(
        Ready{fd, (e & EPOLLIN) != 0, (e & EPOLLOUT) != 0, (e & (EPOLLERR | EPOLLHUP)) != 0});
  }
}

}  // namespace ned
