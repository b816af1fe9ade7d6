#include "comm/transport_mpi.h"

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "comm/mpi_check.h"
#include "common/error.h"

namespace qosroute {

MpiTransport::MpiTransport() {
  QR_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  QR_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
}

MpiTransport::~MpiTransport() {
  // Sends still in flight at shutdown are cancelled: the protocol has already ended, and
  // MPI_Finalize must not wait on a receiver that will never post its receive.
  for (PendingSend& p : pending_) {
    int done = 0;
    MPI_Test(&p.request, &done, MPI_STATUS_IGNORE);
    if (!done) {
      MPI_Cancel(&p.request);
      MPI_Request_free(&p.request);
    }
  }
}

void MpiTransport::Send(int destination, std::vector<uint8_t> bytes) {
  QR_CHECK(destination >= 0 && destination < size_);
  QR_CHECK_MSG(bytes.size() < static_cast<size_t>(INT_MAX), "message over 2 GiB");
  pending_.push_back(PendingSend{destination, std::move(bytes), MPI_REQUEST_NULL});
  PendingSend& p = pending_.back();
  QR_MPI_CHECK(MPI_Isend(p.bytes.data(), static_cast<int>(p.bytes.size()), MPI_BYTE, destination,
                         kTag, MPI_COMM_WORLD, &p.request));
  Progress();
}

void MpiTransport::Progress() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    int done = 0;
    QR_MPI_CHECK(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE));
    it = done ? pending_.erase(it) : it + 1;
  }
}

bool MpiTransport::Poll(Message* message) {
  Progress();
  int found = 0;
  MPI_Message handle;
  MPI_Status status;
  QR_MPI_CHECK(MPI_Improbe(MPI_ANY_SOURCE, kTag, MPI_COMM_WORLD, &found, &handle, &status));
  if (!found) return false;
  int count = 0;
  QR_MPI_CHECK(MPI_Get_count(&status, MPI_BYTE, &count));
  message->source = status.MPI_SOURCE;
  message->bytes.resize(count);
  QR_MPI_CHECK(MPI_Mrecv(message->bytes.data(), count, MPI_BYTE, &handle, MPI_STATUS_IGNORE));
  return true;
}

size_t MpiTransport::PendingSends() {
  Progress();
  return pending_.size();
}

size_t MpiTransport::PendingSendsTo(int destination) {
  Progress();
  size_t n = 0;
  for (const PendingSend& p : pending_) n += p.destination == destination;
  return n;
}

void MpiTransport::Abort(const std::string& message) {
  std::fprintf(stderr, "qosroute rank %d (%s): fatal: %s\n", rank_, role().c_str(),
               message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

}  // namespace qosroute
