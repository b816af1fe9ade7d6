#pragma once
// Point-to-point messaging between the ranks of a job, behind one narrow interface (as gloo's
// Device/Pair): an MPI implementation for real jobs and an in-process one (ranks as threads)
// for fast tests of the distributed logic.
//
// Semantics every implementation keeps:
//  - Send never blocks: the bytes are moved in and delivered later; PendingSends says how
//    many have not completed yet (a sender bounds its memory with it).
//  - Messages from one source to one destination arrive in the order they were sent.
//  - Poll never blocks. Waiting is the caller's loop, with a deadline (WaitUntil below).
//  - Abort ends the whole job with a message naming the rank; never returns.
// Not thread-safe: one thread per rank uses its transport.
#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace qosroute {

struct Message {
  int source = -1;
  std::vector<uint8_t> bytes;
};

// Thrown inside a rank when another rank aborted the job (in-process transport), so that
// threads unwind instead of waiting on peers that are gone.
class JobAborted : public std::runtime_error {
 public:
  explicit JobAborted(const std::string& message) : std::runtime_error(message) {}
};

// Thrown when a wait passes its deadline; the rank's driver turns it into Abort.
class DeadlineExceeded : public std::runtime_error {
 public:
  explicit DeadlineExceeded(const std::string& message) : std::runtime_error(message) {}
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual void Send(int destination, std::vector<uint8_t> bytes) = 0;
  // The next message for this rank, if one has arrived.
  virtual bool Poll(Message* message) = 0;
  // Sends not yet completed (all destinations, or one).
  virtual size_t PendingSends() = 0;
  virtual size_t PendingSendsTo(int destination) = 0;
  // Prints "qosroute rank <r> (<role>): fatal: <message>" and ends every rank of the job.
  [[noreturn]] virtual void Abort(const std::string& message) = 0;

  // The label that Abort puts after the rank ("learner 0", "shard 1", "actor 3").
  void set_role(const std::string& role) { role_ = role; }
  const std::string& role() const { return role_; }

 private:
  std::string role_;
};

using SteadyClock = std::chrono::steady_clock;

// What one step of a wait loop found.
enum class WaitStatus {
  kDone,  // the awaited condition holds
  kBusy,  // not yet, but something happened (a message arrived): the deadline restarts
  kIdle,  // nothing happened
};

// Calls `step` until it returns kDone; throws DeadlineExceeded naming `what` once
// `idle_timeout_s` pass without a kBusy step. The deadline is on inactivity, not on the whole
// wait, so a long run with traffic never times out while a peer that died (or hangs) ends the
// wait. Idle steps back off briefly, so a waiting rank does not spin a core at 100%.
void WaitUntil(const std::function<WaitStatus()>& step, double idle_timeout_s,
               const std::string& what);

// The common case: calls `pump` (handles messages; true if it did anything) until `done`
// holds, with the same idle deadline.
void PumpUntil(const std::function<bool()>& pump, const std::function<bool()>& done,
               double idle_timeout_s, const std::string& what);

}  // namespace qosroute
