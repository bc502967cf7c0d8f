#include "memory.h"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace ned {
namespace memory {

namespace {

// Each block carries its size in front, so free() knows which ones to keep.
struct alignas(std::max_align_t) Header {
  size_t size;
};
constexpr size_t kHeader = sizeof(Header);
constexpr size_t kKeepFrom = 16 * 1024;    // libcurl's buffers; smaller ones glibc reuses well
constexpr size_t kKeepUpTo = 512 * 1024;   // bigger: mmap'd by glibc anyway
constexpr size_t kKeepAtMost = 32u << 20;  // bytes kept at once, all sizes

struct Kept {
  size_t size;
  std::vector<void*> blocks;  // raw blocks (header included)
};

// Never destroyed: libcurl and its TLS library may still free memory from exit handlers.
struct State {
  std::mutex mu;
  std::vector<Kept> kept;  // by size; libcurl uses a handful of sizes
  size_t kept_bytes = 0;
  unsigned long long reused = 0;
};
State& S() {
  static State* state = new State();
  return *state;
}

Header* HeaderOf(void* p) { return reinterpret_cast<Header*>(static_cast<char*>(p) - kHeader); }
void* UserOf(void* raw) { return static_cast<char*>(raw) + kHeader; }

void* TakeKept(size_t size) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  for (Kept& k : s.kept) {
    if (k.size != size || k.blocks.empty()) continue;
    void* raw = k.blocks.back();
    k.blocks.pop_back();
    s.kept_bytes -= size;
    ++s.reused;
    return raw;
  }
  return nullptr;
}

bool Keep(void* raw, size_t size) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.kept_bytes + size > kKeepAtMost) return false;
  Kept* slot = nullptr;
  for (Kept& k : s.kept) {
    if (k.size == size) {
      slot = &k;
      break;
    }
  }
  try {
    if (slot == nullptr) {
      s.kept.push_back(Kept{size, {}});
      slot = &s.kept.back();
    }
    slot->blocks.push_back(raw);
  } catch (...) {
    return false;
  }
  s.kept_bytes += size;
  return true;
}

void* Allocate(size_t size) {
  if (size >= kKeepFrom && size <= kKeepUpTo) {
    if (void* raw = TakeKept(size)) return UserOf(raw);
  }
  auto* raw = static_cast<Header*>(std::malloc(size + kHeader));
  if (raw == nullptr) return nullptr;
  raw->size = size;
  return UserOf(raw);
}

void Free(void* p) {
  if (p == nullptr) return;
  Header* raw = HeaderOf(p);
  const size_t size = raw->size;
  if (size >= kKeepFrom && size <= kKeepUpTo && Keep(raw, size)) return;
  std::free(raw);
}

void* Reallocate(void* p, size_t size) {
  if (p == nullptr) return Allocate(size);
  auto* raw = static_cast<Header*>(std::realloc(HeaderOf(p), size + kHeader));
  if (raw == nullptr) return nullptr;
  raw->size = size;
  return UserOf(raw);
}

char* Duplicate(const char* s) {
  const size_t n = std::strlen(s) + 1;
  auto* copy = static_cast<char*>(Allocate(n));
  if (copy != nullptr) std::memcpy(copy, s, n);
  return copy;
}

void* AllocateZeroed(size_t count, size_t size) {
  if (size != 0 && count > (static_cast<size_t>(-1) - kHeader) / size) return nullptr;
  void* p = Allocate(count * size);
  if (p != nullptr) std::memset(p, 0, count * size);
  return p;
}

}  // namespace

CURLcode GlobalInit(long flags) {
  return curl_global_init_mem(flags, Allocate, Free, Reallocate, Duplicate, AllocateZeroed);
}

void Release() {
  State& s = S();
  std::vector<Kept> kept;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    kept.swap(s.kept);
    s.kept_bytes = 0;
  }
  for (Kept& k : kept) {
    for (void* raw : k.blocks) std::free(raw);
  }
}

Counts Stats() {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  return Counts{s.reused, s.kept_bytes};
}

}  // namespace memory
}  // namespace ned
