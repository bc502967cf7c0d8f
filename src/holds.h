// Spool slots held by the live environments of this process. A slot's owner file names a process;
// when that process is this one, only this registry tells a slot of the main thread or of a running
// worker from one left by a worker that was terminated (its JavaScript never ran a close()).
#pragma once

#include <string>

namespace ned {

class Holds {
 public:
  // `owner` is the environment's key (its Binding): what it holds goes when it is torn down.
  static void Take(const void* owner, const std::string& name);
  static void Drop(const void* owner, const std::string& name);
  static void DropAll(const void* owner);
  static bool Held(const std::string& name);
};

}  // namespace ned
