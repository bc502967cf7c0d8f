// Which waiting transfer starts next: each environment's transfers in order, the environments
// taking turns (lanes), each up to its max in flight, all within the process's connection caps.
// Bookkeeping only: it never calls libcurl (Multi starts what it picks). Owner of the multi handle
// only (see pump.h): no locks.
//
// HTTP/1.1 transfers need a connection each: libcurl caps only the connections it opens, and
// reuses idle ones past a lowered cap, so the caps are held here. A transfer whose origin is at its
// cap is set aside, in order per origin, so that one hung origin never holds up the others.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "request.h"

namespace ned {

class Channel;

// Process-wide: libcurl's connection caps apply to the one multi handle.
struct ConnectionLimits {
  long max_host_connections;
  long max_total_connections;
};

class Scheduler {
 public:
  // Queued behind its environment's other waiting transfers.
  void Enqueue(Transfer* t);
  // How many of `ch`'s transfers may be in flight at once (0, the start: none).
  void SetMaxInFlight(Channel* ch, long n);
  void SetCaps(const ConnectionLimits& caps) { caps_ = caps; }
  const ConnectionLimits& caps() const { return caps_; }

  // The waiting transfer to start next, taken out of the queues, as far as the limits allow: the
  // lanes take turns. Null when none may start now. The caller starts it and says so (Started),
  // before it asks for the next one; one that fails to start is simply not counted.
  Transfer* Next();
  // `t`, from Next(), is in flight: it counts against the limits until Ended().
  void Started(Transfer* t);
  // A transfer counted by Started is no longer in flight.
  void Ended(Transfer* t);
  // The origin of `t`, finished, answered over HTTP/2 (`h2`) or not: only there do http2 transfers
  // share connections (until then, or where ALPN chose HTTP/1.1, they are held to the caps).
  void LearnProtocol(Transfer* t, bool h2);

  // The waiting transfer of `ch` with this id, taken out of the queues; null if none waits.
  Transfer* TakeWaiting(Channel* ch, double id);
  // Deletes `ch`'s waiting transfers and forgets `ch` (it must have none in flight); how many.
  size_t Drop(Channel* ch);

  size_t waiting() const { return waiting_total_; }
  // `ch`'s transfers in flight or waiting.
  long Outstanding(Channel* ch) const;

 private:
  // One environment's share.
  struct Lane {
    std::deque<Transfer*> waiting;  // in order
    // Set aside from waiting while their origin is at its connection cap (HTTP/1.1), in order per
    // origin: the transfers behind them, to other origins, go on meanwhile.
    std::unordered_map<std::string, std::deque<Transfer*>> blocked;
    size_t blocked_count = 0;
    long active = 0;
    long max_in_flight = 0;  // nothing starts before lib/ configures the environment
    bool in_turns = false;
    size_t Waiting() const { return waiting.size() + blocked_count; }
  };

  Transfer* NextStartable(Lane* lane);
  bool HasRoom(Transfer* t);
  bool SharesConnections(Transfer* t);

  std::unordered_map<Channel*, Lane> lanes_;  // node-based: a Lane stays put, turns_ points at it
  std::vector<Lane*> turns_;                  // lanes with waiting transfers, taking turns
  size_t next_turn_ = 0;                      // the lane Next() looks at first (mod turns_)
  size_t waiting_total_ = 0;
  ConnectionLimits caps_{0, 0};                          // in force on the multi handle
  std::unordered_map<std::string, long> origin_active_;  // HTTP/1.1 transfers per origin
  std::unordered_map<std::string, bool> origin_h2_;      // origins seen answering: over HTTP/2?
  long h1_active_ = 0;
};

}  // namespace ned
