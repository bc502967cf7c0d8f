#include "holds.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <unordered_map>

namespace ned {

namespace {
struct Hold {
  const void* owner;
  int fd;
};
std::mutex& Mutex() {
  static std::mutex* mu = new std::mutex();  // never destroyed: used until the process ends
  return *mu;
}
std::unordered_map<std::string, Hold>& Taken() {
  static auto* taken = new std::unordered_map<std::string, Hold>();
  return *taken;
}
int OpenDir(const std::string& dir) {
  return open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}
}  // namespace

bool Holds::Take(const void* owner, const std::string& dir) {
  const int fd = OpenDir(dir);
  if (fd < 0) return false;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return false;
  }
  std::lock_guard<std::mutex> lock(Mutex());
  auto found = Taken().find(dir);
  if (found != Taken().end()) close(found->second.fd);
  Taken()[dir] = Hold{owner, fd};
  return true;
}

void Holds::Drop(const void* owner, const std::string& dir) {
  std::lock_guard<std::mutex> lock(Mutex());
  auto found = Taken().find(dir);
  if (found == Taken().end() || found->second.owner != owner) return;
  close(found->second.fd);
  Taken().erase(found);
}

void Holds::DropAll(const void* owner) {
  std::lock_guard<std::mutex> lock(Mutex());
  for (auto it = Taken().begin(); it != Taken().end();) {
    if (it->second.owner != owner) {
      ++it;
      continue;
    }
    close(it->second.fd);
    it = Taken().erase(it);
  }
}

bool Holds::Held(const std::string& dir) {
  const int fd = OpenDir(dir);
  if (fd < 0) return true;
  const bool held = flock(fd, LOCK_EX | LOCK_NB) != 0;
  close(fd);  // lets go of the lock if it got it
  return held;
}

}  // namespace ned
