#include "holds.h"

#include <mutex>
#include <unordered_map>

namespace ned {

namespace {
std::mutex& Mutex() {
  static std::mutex* mu = new std::mutex();  // never destroyed: used until the process ends
  return *mu;
}
std::unordered_map<std::string, const void*>& Names() {
  static auto* names = new std::unordered_map<std::string, const void*>();
  return *names;
}
}  // namespace

void Holds::Take(const void* owner, const std::string& name) {
  std::lock_guard<std::mutex> lock(Mutex());
  Names()[name] = owner;
}

void Holds::Drop(const void* owner, const std::string& name) {
  std::lock_guard<std::mutex> lock(Mutex());
  auto it = Names().find(name);
  if (it != Names().end() && it->second == owner) Names().erase(it);
}

void Holds::DropAll(const void* owner) {
  std::lock_guard<std::mutex> lock(Mutex());
  for (auto it = Names().begin(); it != Names().end();) {
    it = it->second == owner ? Names().erase(it) : std::next(it);
  }
}

bool Holds::Held(const std::string& name) {
  std::lock_guard<std::mutex> lock(Mutex());
  return Names().count(name) > 0;
}

}  // namespace ned
