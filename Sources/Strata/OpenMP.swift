import Foundation

/// OpenMP threads that spin only briefly before they sleep: oneDNN's threads (GNU OpenMP) otherwise
/// spin for a long while after each primitive, and on a machine where another process takes a core
/// the spinning thread steals its partner's time. Measured on 2 cores with one kept busy by another
/// process: the tutorial CNN 3.3x slower by default, 2.2x with 3,000 spins; Deep MNIST 2.4x and 1.6x;
/// on a quiet machine the same within noise (300 spins cost Deep MNIST up to 20 %). libgomp reads its settings when it is
/// loaded, before any Swift code runs, so the process starts itself again with the setting, unless
/// `GOMP_SPINCOUNT` or `OMP_WAIT_POLICY` is already set (then the user's choice stands).
///
/// The same restart gives OpenBLAS a core type when it fell back to its generic SSE3 kernels on a
/// CPU it does not know (``BLASCore/recommendedCoreType``): `OPENBLAS_CORETYPE=Cooperlake` on an
/// AVX-512 Xeon trains the beginner MLP 2.5x faster. Returns only when it did not restart.
public func restartWithShortOpenMPSpinning() {
  let environment = ProcessInfo.processInfo.environment
  var restart = false
  if environment["GOMP_SPINCOUNT"] == nil, environment["OMP_WAIT_POLICY"] == nil {
    setenv("GOMP_SPINCOUNT", "3000", 1)
    restart = true
  }
  if let core = BLASCore.recommendedCoreType {
    setenv("OPENBLAS_CORETYPE", core, 1)
    restart = true
  }
  guard restart else { return }
  var arguments = CommandLine.arguments.map { strdup($0) } + [nil]
  execv("/proc/self/exe", &arguments)
  // execv returned: the restart failed; carry on with the library's defaults.
}
