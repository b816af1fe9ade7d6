#pragma once
// What a launcher (mpirun, srun) told this process through its environment. No MPI here:
// the binary asks before it decides whether to start MPI at all, and without mpirun MPI is
// never touched.
namespace qosroute {

// The world size a launcher announced in the environment (Open MPI, MPICH/Hydra PMI,
// MVAPICH, Slurm srun), or 1 when none did.
int LaunchedWorldSize();

// This process's rank as the launcher announced it, or 0 when none did. Lets a job print a
// message that every rank would hit (a config error, a warning about the config) once: from
// rank 0 only.
int LaunchedWorldRank();

}  // namespace qosroute
