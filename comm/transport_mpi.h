#pragma once
// The MPI transport: one tag on MPI_COMM_WORLD, so that MPI's non-overtaking rule keeps the
// messages of each sender in order whatever their kind. Sends are MPI_Isend of a buffer the
// transport keeps alive until MPI_Test says it is done; Poll is MPI_Iprobe + MPI_Mrecv of the
// exact size. Abort prints the rank and message, then MPI_Abort ends every rank.
#include <mpi.h>

#include <deque>
#include <vector>

#include "comm/transport.h"

namespace qosroute {

class MpiTransport final : public Transport {
 public:
  MpiTransport();  // MPI must be initialised (MpiScope)
  ~MpiTransport() override;
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void Send(int destination, std::vector<uint8_t> bytes) override;
  bool Poll(Message* message) override;
  size_t PendingSends() override;
  size_t PendingSendsTo(int destination) override;
  [[noreturn]] void Abort(const std::string& message) override;

  static constexpr int kTag = 7301;

 private:
  struct PendingSend {
    int destination;
    std::vector<uint8_t> bytes;
    MPI_Request request;
  };
  void Progress();  // retires completed sends

  int rank_ = 0;
  int size_ = 1;
  std::deque<PendingSend> pending_;
};

}  // namespace qosroute
