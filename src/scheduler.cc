#include "scheduler.h"

#include <algorithm>

namespace ned {

void Scheduler::Enqueue(Transfer* t) {
  Lane& lane = lanes_[t->channel];
  lane.waiting.push_back(t);
  ++waiting_total_;
  if (!lane.in_turns) {
    lane.in_turns = true;
    turns_.push_back(&lane);
  }
}

void Scheduler::SetMaxInFlight(Channel* ch, long n) { lanes_[ch].max_in_flight = n; }

Transfer* Scheduler::Next() {
  // One look round the turns, from the lane after the last one that gave a transfer.
  const size_t n = turns_.size();
  for (size_t i = 0; waiting_total_ > 0 && i < n; ++i) {
    Lane* lane = turns_[next_turn_++ % n];
    if (lane->Waiting() == 0 || lane->active >= lane->max_in_flight) continue;
    Transfer* t = NextStartable(lane);
    if (t == nullptr) continue;
    --waiting_total_;
    return t;
  }
  // Nothing more starts now: lanes with nothing waiting leave the turns.
  turns_.erase(std::remove_if(turns_.begin(), turns_.end(),
                              [](Lane* lane) {
                                if (lane->Waiting() > 0) return false;
                                lane->in_turns = false;
                                return true;
                              }),
               turns_.end());
  return nullptr;
}

void Scheduler::Started(Transfer* t) {
  ++lanes_[t->channel].active;
  if (SharesConnections(t)) return;
  t->origin_count = &origin_active_[t->Origin()];  // map nodes stay put: so does the pointer
  ++*t->origin_count;
  ++h1_active_;
}

void Scheduler::Ended(Transfer* t) {
  auto lane = lanes_.find(t->channel);
  if (lane != lanes_.end()) --lane->second.active;
  if (t->origin_count == nullptr) return;
  --h1_active_;
  if (--*t->origin_count <= 0) origin_active_.erase(t->origin);
  t->origin_count = nullptr;
}

void Scheduler::LearnProtocol(Transfer* t, bool h2) { origin_h2_[t->Origin()] = h2; }

// An http2 transfer to an origin that answered over HTTP/2 before: multiplexed, so libcurl's own
// connection caps hold for it.
bool Scheduler::SharesConnections(Transfer* t) {
  if (!t->profile->http2) return false;
  auto found = origin_h2_.find(t->Origin());
  return found != origin_h2_.end() && found->second;
}

// The transfer of `lane` to start next, taken out of its queues, or null. Those set aside for an
// origin at its cap come first once it has room (they were ahead); a transfer found at its
// origin's cap is set aside.
Transfer* Scheduler::NextStartable(Lane* lane) {
  for (auto it = lane->blocked.begin(); lane->blocked_count > 0 && it != lane->blocked.end();
       ++it) {
    if (it->second.empty()) continue;  // never left so (see TakeWaiting); a guard all the same
    Transfer* t = it->second.front();
    if (!HasRoom(t)) continue;
    it->second.pop_front();
    if (it->second.empty()) lane->blocked.erase(it);
    --lane->blocked_count;
    return t;
  }
  while (!lane->waiting.empty()) {
    Transfer* t = lane->waiting.front();
    if (HasRoom(t)) {
      lane->waiting.pop_front();
      return t;
    }
    // All connections in use: nothing over HTTP/1.1 starts before one ends.
    if (caps_.max_total_connections > 0 && h1_active_ >= caps_.max_total_connections) {
      return nullptr;
    }
    lane->waiting.pop_front();
    lane->blocked[t->origin].push_back(t);
    ++lane->blocked_count;
  }
  return nullptr;
}

// Whether the connection caps leave room for `t` (HTTP/2 transfers share connections: libcurl's
// own caps hold for them).
bool Scheduler::HasRoom(Transfer* t) {
  if (SharesConnections(t)) return true;
  if (caps_.max_total_connections > 0 && h1_active_ >= caps_.max_total_connections) {
    return false;
  }
  if (caps_.max_host_connections <= 0) return true;
  auto found = origin_active_.find(t->Origin());
  return found == origin_active_.end() || found->second < caps_.max_host_connections;
}

Transfer* Scheduler::TakeWaiting(Channel* ch, double id) {
  auto found = lanes_.find(ch);
  if (found == lanes_.end()) return nullptr;
  Lane& lane = found->second;
  auto take = [&](std::deque<Transfer*>* queue) -> Transfer* {
    for (auto it = queue->begin(); it != queue->end(); ++it) {
      if ((*it)->id != id) continue;
      Transfer* t = *it;
      queue->erase(it);
      --waiting_total_;
      return t;
    }
    return nullptr;
  };
  if (Transfer* t = take(&lane.waiting)) return t;
  for (auto it = lane.blocked.begin(); it != lane.blocked.end(); ++it) {
    Transfer* t = take(&it->second);
    if (t == nullptr) continue;
    --lane.blocked_count;
    if (it->second.empty()) lane.blocked.erase(it);  // an origin with an empty list is never left
    return t;
  }
  return nullptr;
}

size_t Scheduler::Drop(Channel* ch) {
  auto found = lanes_.find(ch);
  if (found == lanes_.end()) return 0;
  Lane& lane = found->second;
  const size_t dropped = lane.Waiting();
  for (Transfer* t : lane.waiting) delete t;
  for (auto& entry : lane.blocked) {
    for (Transfer* t : entry.second) delete t;
  }
  waiting_total_ -= dropped;
  if (lane.in_turns) turns_.erase(std::remove(turns_.begin(), turns_.end(), &lane), turns_.end());
  lanes_.erase(found);
  return dropped;
}

long Scheduler::Outstanding(Channel* ch) const {
  auto found = lanes_.find(ch);
  if (found == lanes_.end()) return 0;
  return found->second.active + static_cast<long>(found->second.Waiting());
}

}  // namespace ned
