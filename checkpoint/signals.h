#pragma once
// SIGTERM, SIGINT and SIGUSR1 as a stop request. The handler only sets an atomic flag (the one
// thing a signal handler may safely do); the training loop polls it between decision rounds and
// between updates, writes a checkpoint and returns, and the process exits 0. SLURM sends
// SIGTERM ahead of a time limit or preemption (sbatch --signal=B:TERM@120). SIGUSR1 is for
// mpirun: Open MPI's mpirun forwards SIGUSR1 to every rank, while on SIGTERM it kills the
// ranks about a second after passing the signal on (too soon for a checkpoint).
//
// Each handler is installed with SA_RESETHAND: a second SIGTERM or Ctrl-C kills the process
// at once, for the person who does not want to wait for the checkpoint.
#include <atomic>

namespace qosroute {

class StopSignals {
 public:
  // Installs the handlers; the destructor puts the previous ones back. One instance at a time.
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Set once SIGTERM, SIGINT or SIGUSR1 arrived.
  static const std::atomic<bool>& flag();
  // The signal that set the flag (0 when none).
  static int signal_number();
};

}  // namespace qosroute
