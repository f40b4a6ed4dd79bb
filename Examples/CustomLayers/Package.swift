// swift-tools-version: 6.0
// A third-party plugin package: it depends on Strata by path, as any downstream package would by URL.
import PackageDescription

let package = Package(
  name: "CustomLayers",
  platforms: [.macOS(.v15)],
  products: [.library(name: "CustomLayers", targets: ["CustomLayers"])],
  dependencies: [.package(name: "Strata", path: "../..")],
  targets: [
    // The plugin itself needs only the core.
    .target(name: "CustomLayers", dependencies: [.product(name: "StrataCore", package: "Strata")]),
    // A small program that trains and saves a model using the plugin's layers.
    .executableTarget(
      name: "custom-layers-demo",
      dependencies: [
        "CustomLayers", .product(name: "Strata", package: "Strata"),
        .product(name: "StrataKeras", package: "Strata"),
        .product(name: "StrataData", package: "Strata"),
      ]),
    // A variational autoencoder trained by a loop written from scratch with a GradientTape.
    .executableTarget(
      name: "vae-demo",
      dependencies: [
        "CustomLayers", .product(name: "Strata", package: "Strata"),
        .product(name: "StrataData", package: "Strata"),
      ]),
    .testTarget(
      name: "CustomLayersTests",
      dependencies: [
        "CustomLayers",
        .product(name: "Strata", package: "Strata"),
        .product(name: "StrataKeras", package: "Strata"),
        .product(name: "StrataTesting", package: "Strata"),
      ],
      resources: [.copy("Fixtures")]),
  ]
)
