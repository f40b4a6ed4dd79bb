// Open MPI for Swift. Its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE, …) are macros
// over the addresses of library globals, which Swift cannot import: each one Strata uses has a getter.
#include <mpi.h>

/// MPI_COMM_WORLD: every process of the run.
static inline MPI_Comm strata_mpi_comm_world(void) { return MPI_COMM_WORLD; }
/// MPI_FLOAT.
static inline MPI_Datatype strata_mpi_float(void) { return MPI_FLOAT; }
/// MPI_DOUBLE.
static inline MPI_Datatype strata_mpi_double(void) { return MPI_DOUBLE; }
/// MPI_INT.
static inline MPI_Datatype strata_mpi_int(void) { return MPI_INT; }
/// MPI_BYTE.
static inline MPI_Datatype strata_mpi_byte(void) { return MPI_BYTE; }
/// MPI_SUM: add.
static inline MPI_Op strata_mpi_sum(void) { return MPI_SUM; }
/// MPI_MAX: the largest.
static inline MPI_Op strata_mpi_max(void) { return MPI_MAX; }
/// MPI_IN_PLACE: the send buffer is the receive buffer.
static inline void *strata_mpi_in_place(void) { return MPI_IN_PLACE; }
/// MPI_THREAD_FUNNELED: only the main thread calls MPI.
static inline int strata_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
/// MPI_SUCCESS: the return code of a call that worked.
static inline int strata_mpi_success(void) { return MPI_SUCCESS; }
/// Errors come back as return codes instead of aborting, so they become Swift errors naming the call.
static inline void strata_mpi_errors_return(void) { MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); }
/// In a build instrumented for coverage (clang's profile runtime linked), writes the process's
/// profile; elsewhere does nothing. MPI_Abort ends a process without the exit handlers that would.
extern int __llvm_profile_write_file(void) __attribute__((weak));
static inline void strata_write_coverage_profile(void) {
  if (__llvm_profile_write_file) __llvm_profile_write_file();
}
