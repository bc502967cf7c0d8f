// Spool slots held by the live environments of this process. A slot's owner file names a process;
// when that process is this one, only a hold tells a slot of the main thread or of a running worker
// from one left by a worker that was terminated (its JavaScript never ran a close()). A hold is an
// flock on the slot's directory, kept by the environment that made the slot and let go with it: so
// other copies of the addon in this process (another version of the package) see it too.
#pragma once

#include <string>

namespace ned {

class Holds {
 public:
  // `owner` is the environment's key (its Binding): what it holds goes when it is torn down.
  // False when the directory cannot be opened or is locked already.
  static bool Take(const void* owner, const std::string& dir);
  static void Drop(const void* owner, const std::string& dir);
  static void DropAll(const void* owner);
  // Whether anyone holds `dir` now (true too when it cannot be looked at: never adopt on a doubt).
  static bool Held(const std::string& dir);
};

}  // namespace ned
