#include "channel.h"

#include "pump.h"
#include "timing.h"

namespace ned {

Channel::Channel(uv_loop_t* loop, CompletionSink* sink, Pump* pump)
    : pump_(pump), loop_(loop), sink_(sink) {}

Channel* Channel::Open(uv_loop_t* loop, CompletionSink* sink, std::string* error) {
  Pump* pump = Pump::Get(error);
  if (pump == nullptr) return nullptr;
  auto* ch = new Channel(loop, sink, pump);
  if (uv_async_init(loop, &ch->async_, &Channel::OnAsync) != 0) {
    *error = "cannot create the completion handle";
    delete ch;
    return nullptr;
  }
  ch->async_.data = ch;
  uv_prepare_init(loop, &ch->prepare_);
  uv_check_init(loop, &ch->check_);
  ch->prepare_.data = ch;
  ch->check_.data = ch;
  uv_prepare_start(&ch->prepare_,
                   [](uv_prepare_t* h) { static_cast<Channel*>(h->data)->OnPrepare(); });
  uv_check_start(&ch->check_, [](uv_check_t* h) { static_cast<Channel*>(h->data)->OnCheck(); });
  ch->handles_open_ = 3;
  // None of them keeps the loop alive by itself; the async is referenced while transfers of this
  // environment are pending.
  uv_unref(reinterpret_cast<uv_handle_t*>(&ch->async_));
  uv_unref(reinterpret_cast<uv_handle_t*>(&ch->prepare_));
  uv_unref(reinterpret_cast<uv_handle_t*>(&ch->check_));
  pump->Attach(ch);
  return ch;
}

void Channel::Submit(std::unique_ptr<Transfer> t) {
  t->channel = this;
  ++submitted_;
  if (pending_++ == 0 && !referenced_) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
    referenced_ = true;
  }
  bool ring = false;
  const WorkOrder order = pump_->Submit(this, std::move(t), &ring);
  QueueWork(order);   // the pump was idle: it runs on this loop now
  if (!ring) return;  // idle (now queued here) or halted
  // A ring wakes the pump (a system call, and a thread switch): the first transfer of a burst rings
  // at once, the rest at most every kRingInterval, and the loop's next turn (uv_prepare/uv_check)
  // catches what is left. So a burst costs a ring or two, yet an application that does real work
  // between submits (building the next batch) never holds its first transfer back.
  const auto now = Clock::now();
  if (now - last_ring_ >= timing::kRingInterval) {
    last_ring_ = now;
    ring_due_ = false;
    pump_->RingForTransfers();
  } else {
    ring_due_ = true;
  }
}

// Transfers queued during one turn of this loop reach the pump with one ring, not one each.
void Channel::Ring() {
  if (!ring_due_) return;
  ring_due_ = false;
  pump_->RingForTransfers();
}

// The loop's last step before it waits: completions that came while it was busy go out now (no
// wake-up needed for them), transfers queued this turn reach the pump, and the pump learns when
// this loop wakes by itself.
void Channel::OnPrepare() {
  for (int round = 0;; ++round) {
    Deliver();
    Ring();
    // After the callbacks: what they scheduled (timers, immediates) counts.
    const int timeout = uv_backend_timeout(loop_);
    std::lock_guard<std::mutex> lock(mu_);
    if (!completed_.empty()) {
      if (round < 2) continue;
      uv_async_send(&async_);  // still more: a wake-up of our own, then
    }
    asleep_ = true;
    prompt_ = chained_;
    if (timeout != 0) {  // it will wait: did it send since it last woke?
      sends_on_turns_ = submitted_ != submitted_at_turn_;
      submitted_at_turn_ = submitted_;
    }
    wakes_at_ =
        timeout < 0 ? Clock::time_point::max() : Clock::now() + std::chrono::milliseconds(timeout);
    return;
  }
}

// The loop woke up.
void Channel::OnCheck() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    asleep_ = false;
  }
  Ring();
}

void Channel::Abort(double id) { pump_->Abort(this, id); }

void Channel::SetMaxInFlight(long n) { pump_->SetMaxInFlight(this, n); }

void Channel::SetConnectionLimits(const ConnectionLimits& limits, bool initial) {
  pump_->SetConnectionLimits(limits, initial);
}

void Channel::CloseIdle() { QueueWork(pump_->CloseIdle(this)); }

PumpStats Channel::Stats() const { return pump_->Stats(); }

void Channel::OnAsync(uv_async_t* handle) {
  auto* self = static_cast<Channel*>(handle->data);
  bool kick;
  bool detached;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    kick = self->kick_;
    self->kick_ = false;
    detached = self->detached_;
  }
  if (detached) {
    self->pump_done_ = true;
  } else {
    self->Deliver();
  }
  if (kick && !self->closing_) self->QueueWork(self->pump_->Host(self));
  self->MaybeFinishClose();  // may delete self
}

void Channel::Deliver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivering_.swap(completed_);
  }
  if (delivering_.empty()) return;
  const uint64_t n = delivering_.size();
  pending_ = pending_ > n ? pending_ - n : 0;
  if (pending_ == 0 && referenced_) {
    uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
    referenced_ = false;
  }
  const uint64_t submitted_before = submitted_;
  if (!closing_ && sink_ != nullptr) {
    try {
      sink_->OnCompleted(&delivering_);
    } catch (...) {
      // Nothing may escape into libuv: during an environment's teardown any N-API call can fail.
    }
  }
  delivering_.clear();
  // Submits from the callbacks (or their promise reactions): the application sends again as soon
  // as it hears back, so its next completions should not wait for the loop's own wake-up.
  chained_ = submitted_ != submitted_before;
}

void Channel::Close(void (*done)(void*), void* arg) {
  closing_ = true;
  close_done_ = done;
  close_arg_ = arg;
  // Node's teardown turns the loop only while something keeps it alive: the word that the pump let
  // go of this channel arrives through async_, so async_ must hold the loop until then.
  if (!referenced_) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
    referenced_ = true;
  }
  if (pump_->Leave(this)) pump_done_ = true;  // halted: nobody looks at this channel again
  MaybeFinishClose();
}

void Channel::MaybeFinishClose() {
  if (!closing_ || !pump_done_ || works_queued_ > 0 || handles_open_ != 3) return;
  handles_open_ = 2;  // closing: counts down to -1 below
  auto closed = [](uv_handle_t* h) {
    auto* self = static_cast<Channel*>(h->data);
    if (--self->handles_open_ > -1) return;
    void (*done)(void*) = self->close_done_;
    void* arg = self->close_arg_;
    delete self;
    if (done != nullptr) done(arg);
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), closed);
}

void Channel::QueueWork(const WorkOrder& order) {
  if (order.req == nullptr) return;
  ++works_queued_;
  current_work_ = order.req;
  uv_queue_work(loop_, order.req, order.work, order.after);
}

void Channel::WorkEnded(uv_work_t* req) {
  --works_queued_;
  if (current_work_ == req) current_work_ = nullptr;
}

void Channel::CancelWork() {
  if (current_work_ != nullptr) uv_cancel(reinterpret_cast<uv_req_t*>(current_work_));
}

void Channel::AskToHost() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    kick_ = true;
  }
  uv_async_send(&async_);
}

bool Channel::AddCompleted(TransferBatch* batch, Clock::duration piggyback) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& t : *batch) completed_.push_back(std::move(t));
  batch->clear();
  // The clock read here, not by the caller: the loop may have gone to sleep (and set wakes_at_
  // from its own later clock) since, which would look like a long sleep.
  return asleep_ && (prompt_ || wakes_at_ > Clock::now() + piggyback);
}

void Channel::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  completed_.clear();
  detached_ = true;
}

bool Channel::NextSendingTurn(Clock::time_point* wakes_at) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!asleep_ || !sends_on_turns_) return false;
  *wakes_at = wakes_at_;
  return true;
}

}  // namespace ned
