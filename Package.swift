// swift-tools-version: 6.2
import PackageDescription

// Strata builds and is tested on Linux (Debian 12, x86-64) with Swift 6.2 or later (`SendableMetatype`),
// OpenBLAS, oneDNN, libhdf5 and Open MPI from Debian's packages.

/// The built-in plugins: each is a target under `Plugins/<name>` that depends on StrataCore and
/// these, and a dependency of the `Strata` module. A new plugin or kernels backend is one line here
/// and its plugin's line in `BuiltIns.plugins` (`Sources/Strata/BuiltIns.swift`), which also exports
/// the modules whose API applications use.
let plugins: [(name: String, dependencies: [Target.Dependency])] = [
  ("StrataSIMD", ["CStrataKernels"]),
  ("StrataBLAS", ["CBLAS"]),
  ("StrataDNNL", ["CDNNL"]),
  ("StrataCPU", ["StrataSIMD", "StrataBLAS", "StrataDNNL", "CStrataKernels"]),
  ("StrataActivations", ["CStrataKernels"]),
  ("StrataInitializers", []),
  ("StrataLayers", ["CStrataKernels"]),
  ("StrataLosses", []),
  ("StrataOptimizers", ["CStrataKernels"]),
  ("StrataMetrics", []),
]

let package = Package(
  name: "Strata",
  products: [
    .library(name: "Strata", targets: ["Strata"]),
    .library(name: "StrataCore", targets: ["StrataCore"]),
    .library(name: "StrataKeras", targets: ["StrataKeras"]),
    .library(name: "StrataTesting", targets: ["StrataTesting"]),
    .library(name: "StrataData", targets: ["StrataData"]),
    .library(name: "StrataSeedModels", targets: ["StrataSeedModels"]),
    .library(name: "StrataMPI", targets: ["StrataMPI"]),
    .executable(name: "strata", targets: ["strata"]),
    .executable(name: "bench", targets: ["bench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    // `swift package generate-documentation`: the DocC catalogs of Strata and StrataCore.
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
  ],
  targets: [
    // MARK: Core
    .target(name: "CStrataHook", path: "Sources/CStrataHook", exclude: ["README.md"]),
    .target(name: "CStrataKernels", path: "Sources/CStrataKernels", exclude: ["README.md"]),
    .target(
      name: "StrataCore", dependencies: ["CStrataHook", "CStrataKernels"], exclude: ["README.md"]),
    // Sets CStrataHook's hook to `strata_register_builtins`, which the Strata module defines: linked
    // only by Strata, so `import StrataCore` alone starts with empty registries.
    .target(
      name: "StrataAutoload", dependencies: ["CStrataHook"], path: "Sources/StrataAutoload",
      exclude: ["README.md"]),
    .target(
      name: "Strata",
      dependencies: ["StrataCore", "StrataAutoload", "CStrataKernels", "CZlib"]
        + plugins.map { .target(name: $0.name) }, exclude: ["README.md"]),
    // Keras' files, in their own module as MPI is: only what links it links libhdf5.
    .target(
      name: "StrataKeras",
      dependencies: ["Strata", "StrataData", "StrataKerasAutoload", "CHDF5", "CZlib"],
      exclude: ["README.md"]),
    .target(
      name: "StrataKerasAutoload", dependencies: ["CStrataHook"],
      path: "Sources/StrataKerasAutoload", exclude: ["README.md"]),
    .target(
      name: "StrataData", dependencies: ["StrataCore", "CZlib", "CStrataImages"],
      exclude: ["README.md"]),
    .target(
      name: "CStrataImages", path: "Sources/CStrataImages", exclude: ["README.md"],
      linkerSettings: [.linkedLibrary("png"), .linkedLibrary("jpeg")]),
    .target(name: "StrataSeedModels", dependencies: ["Strata"], exclude: ["README.md"]),
    // Open MPI for distributed fit, in its own module: only what imports it links MPI.
    .target(name: "StrataMPI", dependencies: ["StrataCore", "CMPI"], exclude: ["README.md"]),
    .target(name: "StrataTesting", dependencies: ["StrataCore"], exclude: ["README.md"]),
    .target(
      name: "StrataCommandLine",
      dependencies: [
        "Strata", "StrataKeras", "StrataData", "StrataSeedModels", "StrataMPI",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ], exclude: ["README.md"]),
    .executableTarget(name: "strata", dependencies: ["StrataCommandLine"], exclude: ["README.md"]),

    // MARK: C libraries
    .systemLibrary(
      name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]),
    .systemLibrary(
      name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
      providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
    .systemLibrary(
      name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5-serial",
      providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"])]),
    .systemLibrary(
      name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
      providers: [.apt(["libopenmpi-dev"]), .brew(["open-mpi"])]),
    .systemLibrary(
      name: "CDNNL", path: "Sources/CDNNL",
      providers: [.apt(["libdnnl-dev"]), .brew(["onednn"])]),

    // MARK: Plugins
  ]
    + plugins.map { name, dependencies in
      .target(
        name: name, dependencies: ["StrataCore"] + dependencies, path: "Plugins/\(name)",
        exclude: ["README.md"])
    } + [
      // MARK: Tests
      .testTarget(
        name: "StrataCoreTests", dependencies: ["StrataCore", "StrataTesting"]),
      .testTarget(
        name: "StrataActivationsTests",
        dependencies: ["StrataCore", "StrataActivations", "StrataTesting"],
        resources: [.copy("Fixtures")]),
      .testTarget(
        name: "StrataLayersTests",
        dependencies: [
          "StrataCore", "StrataLayers", "StrataActivations", "StrataInitializers", "StrataSIMD",
          "StrataBLAS", "StrataDNNL", "StrataCPU", "StrataTesting",
        ],
        resources: [.copy("Fixtures")]),
      .testTarget(
        name: "StrataKernelsTests",
        dependencies: [
          "Strata", "StrataSIMD", "StrataBLAS", "StrataDNNL", "StrataCPU", "CStrataKernels",
        ]),
      .testTarget(
        name: "StrataTests",
        dependencies: [
          "Strata", "StrataKeras", "StrataTesting", "StrataData", "StrataSeedModels",
          "StrataCommandLine",
        ],
        resources: [.copy("Fixtures")]),
      .testTarget(
        name: "StrataDataTests",
        dependencies: ["StrataData", "StrataCore", "StrataTesting", "CStrataImages"],
        resources: [.copy("Fixtures")]),
      .testTarget(
        name: "StrataLossesTests",
        dependencies: ["StrataCore", "StrataLosses", "StrataActivations", "StrataTesting"],
        resources: [.copy("Fixtures")]),
      .testTarget(
        name: "StrataOptimizersTests",
        dependencies: ["StrataCore", "StrataOptimizers", "StrataTesting"],
        resources: [.copy("Fixtures")]),

      // MARK: Benchmarks
      .target(name: "CBenchPeak", path: "Benchmarks/CBenchPeak"),
      .executableTarget(
        name: "bench",
        dependencies: [
          "Strata", "StrataData", "StrataKeras", "StrataSeedModels", "StrataMPI", "CBLAS", "CDNNL",
          "CBenchPeak",
          "CStrataKernels",
          .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        path: "Benchmarks/bench"),
    ]
)
