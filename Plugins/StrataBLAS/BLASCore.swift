import CBLAS
import Foundation

/// Which of its kernels OpenBLAS runs on this CPU, and a better choice when it fell back to a
/// generic one: Debian 12's OpenBLAS 0.3.21 does not know Intel CPUs newer than it (Sapphire and
/// Emerald Rapids report as "Prescott", its SSE3 kernels; a Zen 4 it recognizes, as
/// "Cooperlake"). OpenBLAS reads `OPENBLAS_CORETYPE` when it loads, so the choice takes effect in a
/// restarted process (``restartWithShortOpenMPSpinning()`` restarts with it).
public enum BLASCore {
  /// The core OpenBLAS picked: `openblas_get_corename()` ("SkylakeX", "Haswell", "Prescott", …).
  public static var name: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }

  /// The cores OpenBLAS falls back to when it does not recognize a CPU: SSE-era kernels.
  static let generic: Set<String> = ["prescott", "core2", "nehalem", "atom", "katmai", "unknown"]

  /// Whether ``name`` is a generic core.
  public static var isGeneric: Bool { generic.contains(name.lowercased()) }

  /// The core type to ask OpenBLAS for on a CPU with `flags` (`/proc/cpuinfo`'s), when it picked a
  /// generic one: the newest x86-64 kernels the CPU can run that OpenBLAS 0.3.21 has. `nil` when
  /// the CPU has nothing better than SSE3.
  public static func better(forFlags flags: Set<String>) -> String? {
    let avx512 = ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"].allSatisfy(
      flags.contains)
    if avx512 && flags.contains("avx512_bf16") { return "Cooperlake" }
    if avx512 { return "SkylakeX" }
    if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
    if flags.contains("avx") { return "Sandybridge" }
    return nil
  }

  /// This CPU's feature flags, from `/proc/cpuinfo` (empty where there is none).
  public static var cpuFlags: Set<String> {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
    else { return [] }
    return Set(line.split(separator: ":").last?.split(separator: " ").map(String.init) ?? [])
  }

  /// The `OPENBLAS_CORETYPE` this process should run with, when OpenBLAS fell back to a generic
  /// core and the CPU has better, and the user did not choose one.
  public static var recommendedCoreType: String? {
    guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, isGeneric else {
      return nil
    }
    return better(forFlags: cpuFlags)
  }
}
