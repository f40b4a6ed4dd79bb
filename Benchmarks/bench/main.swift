import CBLAS
import CBenchPeak
import CDNNL
import Foundation
import Strata

/// `swift run -c release bench`: kernel and model throughput against the machine's measured limits.
func main() throws {
  // As the strata command does: oneDNN's OpenMP threads spin briefly, so a busy core costs only its share.
  restartWithShortOpenMPSpinning()
  let options = Options.parseOrExit()
  if options.firstStep { return try firstStep() }
  if let name = options.mpiWorker { return try mpiWorker(name, steps: options.steps) }
  if let row = options.applicationWorker {
    return try applicationWorker(row, directory: options.applications)
  }
  #if DEBUG
    // Debug figures mean nothing: `swift run bench`, as people type it, runs the release build.
    handOverToReleaseBuild()
    FileHandle.standardError.write(
      Data(
        "warning: this is a debug build; its figures mean nothing. Use: swift run -c release bench\n"
          .utf8))
  #endif
  if let threads = options.threads { BLASKernels.setThreads(threads) }
  let runs = options.quick ? 3 : 7
  let machine = Machine(
    isa: String(cString: bench_vector_isa()),
    coreGFLOPS: bench_peak_gflops(options.quick ? 200 : 600),
    bandwidthGBs: bench_copy_bandwidth(256 << 20, options.quick ? 3 : 6),
    cores: ProcessInfo.processInfo.activeProcessorCount)
  if !options.json {
    print(
      String(
        format:
          "Machine: %d cores, %@ FMA peak %.1f GFLOP/s per core, memory bandwidth %.1f GB/s (one core copying)",
        machine.cores, machine.isa, machine.coreGFLOPS, machine.bandwidthGBs))
    let core = BLASCore.name
    let chosen = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
    print(
      "Kernels: OpenBLAS \(core)\(BLASCore.isGeneric ? " (GENERIC: this CPU's vector units go unused)" : "")\(chosen.map { " (OPENBLAS_CORETYPE=\($0))" } ?? ""), oneDNN \(dnnlISAName())"
    )
    print(
      "Peak is per core times the threads a row uses; 'vs direct' is Strata's time over calling the library itself.\n"
    )
  }
  var rows: [Row] = []
  rows += gemmRows(options, machine, runs: runs)
  // From here on oneDNN's OpenMP threads run: OpenBLAS' own would fight them for the cores (the cpu
  // backend does the same when a model has convolutions).
  if options.threads == nil {
    BLASKernels.setThreads(1)
    openblas_set_num_threads(1)
    usleep(200_000)  // let OpenBLAS' workers stop spinning
  }
  rows += convolutionRows(options, machine, runs: runs)
  rows += try elementwiseRows(options, machine, runs: runs)
  rows += try modelRows(options, runs: runs)
  rows += applicationRows(options)
  rows += try opsModelRows(options)
  rows += try sequenceModelRows(options)
  rows += distributedRows(options)
  rows += try imageRows(options)
  rows += try jpegRows(options)
  if options.wants("first training step mlp", backend: "all"), let row = firstStepRow() {
    rows.append(row)
  }
  if options.json {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    var machineRecord = [
      "machine": [
        "isa": machine.isa, "core_gflops": String(machine.coreGFLOPS),
        "bandwidth_gbs": String(machine.bandwidthGBs), "cores": String(machine.cores),
      ]
    ]
    print(String(decoding: try encoder.encode(machineRecord), as: UTF8.self))
    machineRecord = [:]
    for row in rows { print(String(decoding: try encoder.encode(row), as: UTF8.self)) }
  } else {
    printTable(rows)
  }
  let failed = rows.filter { $0.validated == false }
  if !failed.isEmpty {
    FileHandle.standardError.write(
      Data("error: \(failed.count) rows did not match the reference: \(failed.map(\.name))\n".utf8))
    exit(1)
  }
}

/// The instruction set oneDNN's JIT chose: `dnnl_get_effective_cpu_isa()`'s name.
func dnnlISAName() -> String {
  let isa = dnnl_get_effective_cpu_isa()
  let names: [UInt32: String] = [
    0x1: "sse41", 0x3: "avx", 0x7: "avx2", 0x407: "avx2_vnni", 0x27: "avx512_core",
    0x67: "avx512_core_vnni", 0xE7: "avx512_core_bf16", 0x3E7: "avx512_core_amx",
  ]
  return names[isa.rawValue] ?? String(format: "isa 0x%x", isa.rawValue)
}

func printTable(_ rows: [Row]) {
  let header = [
    "kernel", "backend", "shape", "ms", "rate", "unit", "% peak", "vs direct", "check", "note",
  ]
  let cells = rows.map { row -> [String] in
    [
      row.name, row.backend, row.shape,
      String(format: row.milliseconds < 0.1 ? "%.4f" : "%.3f", row.milliseconds),
      String(format: row.rate >= 100 ? "%.0f" : "%.2f", row.rate), row.unit,
      row.ofPeak.map { String(format: "%.0f%%", $0 * 100) } ?? "",
      row.overDirect.map { String(format: "%.2f", $0) } ?? "",
      row.validated.map { $0 ? "ok" : "MISMATCH" } ?? "", row.note ?? "",
    ]
  }
  let widths = header.indices.map { column in
    ([header[column]] + cells.map { $0[column] }).map(\.count).max() ?? 0
  }
  func line(_ fields: [String]) -> String {
    fields.enumerated().map { index, field in
      index >= 3 && index <= 4
        ? String(repeating: " ", count: widths[index] - field.count) + field
        : field.padding(toLength: widths[index], withPad: " ", startingAt: 0)
    }.joined(separator: "  ")
  }
  print(line(header))
  print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
  for row in cells { print(line(row)) }
}

do {
  try main()
} catch {
  FileHandle.standardError.write(Data("error: \(error)\n".utf8))
  exit(1)
}

/// Builds the release `bench` of this package and replaces this (debug) process with it, saying so in
/// one line; returns only when that cannot be done (then the debug build runs, with a warning).
func handOverToReleaseBuild() {
  let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
  guard let range = executable.range(of: "/.build/") else { return }
  let root = String(executable[..<range.lowerBound])
  FileHandle.standardError.write(
    Data("bench: this is a debug build; building and running the release build instead\n".utf8))
  let build = Process()
  build.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  build.arguments = [
    "swift", "build", "-c", "release", "--product", "bench", "--package-path", root,
  ]
  build.standardOutput = FileHandle.standardError
  guard (try? build.run()) != nil else { return }
  build.waitUntilExit()
  let locate = Process()
  locate.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  locate.arguments = ["swift", "build", "-c", "release", "--show-bin-path", "--package-path", root]
  let pipe = Pipe()
  locate.standardOutput = pipe
  guard build.terminationStatus == 0, (try? locate.run()) != nil else { return }
  locate.waitUntilExit()
  let directory = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    .trimmingCharacters(in: .whitespacesAndNewlines)
  let release = directory + "/bench"
  guard FileManager.default.isExecutableFile(atPath: release) else { return }
  var arguments = [strdup(release)] + CommandLine.arguments.dropFirst().map { strdup($0) } + [nil]
  execv(release, &arguments)
}
