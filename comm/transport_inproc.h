#pragma once
// The in-process transport: every rank is a thread of one process and owns a mailbox in a
// shared hub. For tests (and benchmarks of the protocol without MPI underneath).
//
//   InProcessHub hub(4);
//   std::thread t([&] { InProcessTransport transport(&hub, 1); ... });
//
// Abort records the first message, wakes everyone, and makes every later Send/Poll on any
// rank throw JobAborted, so all threads unwind and can be joined.
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "comm/transport.h"

namespace qosroute {

class InProcessHub {
 public:
  explicit InProcessHub(int size);
  int size() const { return static_cast<int>(mailboxes_.size()); }

  void Deliver(int source, int destination, std::vector<uint8_t> bytes);
  bool Take(int destination, Message* message);
  void Abort(const std::string& message);
  // The first abort message, if any rank aborted.
  std::optional<std::string> abort_message() const;
  bool aborted() const;

 private:
  struct Mailbox {
    std::mutex mutex;
    std::deque<Message> queue;  // guarded by mutex
  };
  std::vector<std::unique_ptr<Mailbox>> mailboxes_;
  mutable std::mutex abort_mutex_;
  std::optional<std::string> abort_message_;  // guarded by abort_mutex_
};

class InProcessTransport final : public Transport {
 public:
  InProcessTransport(InProcessHub* hub, int rank) : hub_(hub), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return hub_->size(); }
  void Send(int destination, std::vector<uint8_t> bytes) override;
  bool Poll(Message* message) override;
  // Delivery is immediate: nothing is ever pending.
  size_t PendingSends() override { return 0; }
  size_t PendingSendsTo(int) override { return 0; }
  [[noreturn]] void Abort(const std::string& message) override;

 private:
  void ThrowIfAborted() const;
  InProcessHub* hub_;
  int rank_;
};

}  // namespace qosroute
