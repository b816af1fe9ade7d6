#include "comm/transport_inproc.h"

#include <fmt/format.h>

#include "common/error.h"

namespace qosroute {

InProcessHub::InProcessHub(int size) {
  QR_CHECK(size >= 1);
  for (int i = 0; i < size; ++i) mailboxes_.push_back(std::make_unique<Mailbox>());
}

void InProcessHub::Deliver(int source, int destination, std::vector<uint8_t> bytes) {
  QR_CHECK(destination >= 0 && destination < size());
  Mailbox& box = *mailboxes_[destination];
  std::lock_guard<std::mutex> lock(box.mutex);
  box.queue.push_back(Message{source, std::move(bytes)});
}

bool InProcessHub::Take(int destination, Message* message) {
  Mailbox& box = *mailboxes_[destination];
  std::lock_guard<std::mutex> lock(box.mutex);
  if (box.queue.empty()) return false;
  *message = std::move(box.queue.front());
  box.queue.pop_front();
  return true;
}

void InProcessHub::Abort(const std::string& message) {
  std::lock_guard<std::mutex> lock(abort_mutex_);
  if (!abort_message_) abort_message_ = message;
}

std::optional<std::string> InProcessHub::abort_message() const {
  std::lock_guard<std::mutex> lock(abort_mutex_);
  return abort_message_;
}

bool InProcessHub::aborted() const {
  std::lock_guard<std::mutex> lock(abort_mutex_);
  return abort_message_.has_value();
}

void InProcessTransport::ThrowIfAborted() const {
  if (auto message = hub_->abort_message()) throw JobAborted(*message);
}

void InProcessTransport::Send(int destination, std::vector<uint8_t> bytes) {
  ThrowIfAborted();
  hub_->Deliver(rank_, destination, std::move(bytes));
}

bool InProcessTransport::Poll(Message* message) {
  ThrowIfAborted();
  return hub_->Take(rank_, message);
}

void InProcessTransport::Abort(const std::string& message) {
  const std::string text = fmt::format("qosroute rank {} ({}): fatal: {}", rank_, role(), message);
  std::fprintf(stderr, "%s\n", text.c_str());
  hub_->Abort(text);
  throw JobAborted(text);
}

}  // namespace qosroute
