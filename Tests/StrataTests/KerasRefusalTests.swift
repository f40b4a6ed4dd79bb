import Foundation
@testable import Strata
@testable import StrataKeras
import StrataCore
import StrataData
import Testing

/// `name`.keras with its config.json edited by `edit` and the members `dropping` left out, written
/// to a temporary file.
func editedKerasFile(
  _ name: String, dropping: Set<String> = [], _ edit: (inout String) -> Void = { _ in }
) throws -> URL {
  var members = try ZipArchive.read(Data(contentsOf: kerasFile("\(name).keras")), path: name)
  var text = String(decoding: members["config.json"]!, as: UTF8.self)
  edit(&text)
  members["config.json"] = Data(text.utf8)
  let url = temporaryURL("\(name)-edited.keras")
  // Keras' order: metadata, config, weights, then the assets.
  let order = ["metadata.json", "config.json", "model.weights.h5"]
  let names =
    order.filter { members[$0] != nil } + members.keys.filter { !order.contains($0) }.sorted()
  try ZipArchive.write(names.filter { !dropping.contains($0) }.map { ($0, members[$0]!) })
    .write(to: url)
  return url
}

/// The reason of the file error `body` throws.
func fileError(_ body: () throws -> Void) -> String {
  do {
    try body()
  } catch StrataError.file(_, let reason) {
    return reason
  } catch {
    return "not a file error: \(error)"
  }
  return "no error"
}

@Suite("Keras files refused")
struct KerasRefusalTests {
  @Test("settings Strata cannot honour are refused by name")
  func refusesUnsupportedSettings() throws {
    let cases: [(String, String, String, String)] = [
      (
        "tiny_cnn", "\"data_format\": \"channels_last\"", "\"data_format\": \"channels_first\"",
        "channels_first"
      ),
      ("tiny_mlp", "\"name\": \"float32\"", "\"name\": \"mixed_float16\"", "mixed_float16"),
      ("tiny_adam", "\"use_ema\": false", "\"use_ema\": true", "use_ema"),
      (
        "tiny_adam", "\"weighted_metrics\": null", "\"weighted_metrics\": [\"mae\"]",
        "weighted_metrics"
      ),
      (
        "tiny_mlp", "\"quantization_config\": null",
        "\"quantization_config\": {\"mode\": \"int8\"}", "quantization_config"
      ),
    ]
    for (name, from, to, expected) in cases {
      let url = try editedKerasFile(name) { text in
        #expect(text.contains(from), "\(name) holds \(from)")
        text = text.replacingOccurrences(of: from, with: to)
      }
      let reason = fileError { _ = try loadModel(from: url) }
      #expect(reason.contains(expected), "\(name) with \(to): \(reason)")
    }
  }

  @Test("an unknown plugin layer names the package to register")
  func namesMissingPluginPackage() throws {
    let url = try editedKerasFile("tiny_mlp") { text in
      // The Dropout record (layers[3]) becomes a custom layer registered as `Acme>Sparkle`.
      var config = try! ConfigValue(json: Data(text.utf8))
      config = editing(config, at: ["config", "layers", "3"]) { record in
        guard case .object(var object) = record else { return record }
        object["class_name"] = "Sparkle"
        object["module"] = .null
        object["registered_name"] = "Acme>Sparkle"
        return .object(object)
      }!
      text = String(decoding: try! JSONEncoder().encode(config), as: UTF8.self)
      #expect(text.contains("\"registered_name\":\"Acme>Sparkle\""))
    }
    let reason = fileError { _ = try loadModel(from: url) }
    #expect(reason.contains("Acme>Sparkle") && reason.contains("'Acme'"), "\(reason)")
    let typo = try editedKerasFile("tiny_mlp") { text in
      text = text.replacingOccurrences(
        of: "\"class_name\": \"Dropout\"", with: "\"class_name\": \"Dropuot\"")
    }
    #expect(fileError { _ = try loadModel(from: typo) }.contains("'Dropout'"))
  }

  @Test("weights that do not fit the model are refused, naming the layer")
  func refusesMismatchedWeights() throws {
    let model = try Sequential(
      [Flatten(inputShape: [28, 28]), Dense(9, activation: "relu"), Dense(10)], seed: 1)
    let reason = fileError { try model.loadWeights(from: kerasFile("tiny_mlp.keras")) }
    #expect(reason.contains("dense") && reason.contains("[784, 9]"), "\(reason)")
    let notKeras = temporaryURL("plain.h5")
    try Data("not an HDF5 file at all".utf8).write(to: notKeras)
    #expect(fileError { _ = try loadModel(from: notKeras) }.contains("not a model file"))
  }

  @Test("zip containers: CRC, bombs and truncation are refused")
  func refusesBadZips() throws {
    let data = try Data(contentsOf: kerasFile("tiny_mlp.keras"))
    var flipped = [UInt8](data)
    flipped[200] ^= 0x40  // inside metadata.json or config.json: the CRC no longer matches
    #expect(fileError { _ = try ZipArchive.read(Data(flipped), path: "x") }.contains("CRC-32"))
    #expect(
      fileError { _ = try ZipArchive.read(data.prefix(data.count / 2), path: "x") }.contains("zip"))
    // A deflated member claiming to expand 1000 times.
    let archive = try ZipArchive.write([("config.json", Data("{}".utf8))])
    var bomb = [UInt8](archive)
    let directory = bomb.count - 22 - (46 + 11)
    bomb[8] = 8
    bomb[directory + 10] = 8  // method: deflate
    for (offset, value) in [(20, UInt32(2)), (24, UInt32(400_000_000))] {
      withUnsafeBytes(of: value.littleEndian) {
        for i in 0..<4 { bomb[directory + offset + i] = $0[i] }
      }
    }
    #expect(fileError { _ = try ZipArchive.read(Data(bomb), path: "x") }.contains("zip bomb"))
  }
}

@Suite("NumPy arrays")
struct NumPyTests {
  @Test("float32 arrays round-trip; other dtypes are read as Float")
  func roundTrips() throws {
    let tensor = try Tensor(shape: [2, 3, 2], scalars: (0..<12).map { Float($0) * 0.5 - 2 })
    let url = temporaryURL("x.npy")
    try NumPyArray.write(tensor, to: url)
    #expect(try NumPyArray.read(url) == tensor)
    let vector = try Tensor(shape: [3], scalars: [1, 2, 3])
    #expect(try NumPyArray.decode(NumPyArray.encode(vector), path: "v") == vector)
    // np.save(np.arange(6, dtype=np.uint8).reshape(2, 3)) and the same as int64, float64.
    func file(_ descr: String, _ shape: String, _ payload: [UInt8]) -> Data {
      var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
      header += String(repeating: " ", count: (64 - (10 + header.count + 1) % 64) % 64) + "\n"
      return Data(
        [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count), 0] + Array(header.utf8) + payload
      )
    }
    let expected = try Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
    #expect(
      try NumPyArray.decode(file("|u1", "(2, 3)", [0, 1, 2, 3, 4, 5]), path: "u8") == expected)
    let int64 = (0..<6).flatMap { value in
      withUnsafeBytes(of: Int64(value).littleEndian, Array.init)
    }
    #expect(try NumPyArray.decode(file("<i8", "(2, 3)", int64), path: "i8") == expected)
    let float64 = (0..<6).flatMap { value in
      withUnsafeBytes(of: Double(value).bitPattern.littleEndian, Array.init)
    }
    #expect(try NumPyArray.decode(file("<f8", "(2, 3)", float64), path: "f8") == expected)
    let int32 = (0..<6).flatMap { value in
      withUnsafeBytes(of: Int32(value).littleEndian, Array.init)
    }
    #expect(try NumPyArray.decode(file("<i4", "(2,3)", int32), path: "i4") == expected)
  }

  @Test("malformed headers are refused, naming what is wrong")
  func refusesMalformedHeaders() throws {
    func file(_ header: String, payload: Int = 24) -> Data {
      Data(
        [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
          + [UInt8](repeating: 0, count: payload))
    }
    let cases: [(Data, String)] = [
      (file("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }"), ">f4"),
      (file("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }"), "<c8"),
      (file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }"), "Fortran"),
      (file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }"), "needs 32"),
      (file("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }"), "shape"),
      (
        file("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
        "shape"
      ),
      (file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }"), "shape"),
      (file("{'descr': '<f4', 'fortran_order': False }"), "'shape'"),
      (file("['descr']"), "not a dictionary"),
      (file("{'descr: '<f4'}"), "header"),
      (Data([0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0xFF]), "header"),
      (Data([0x93] + Array("NUMPY".utf8) + [9, 0, 0, 0]), "version 9"),
      (Data("NUMPX".utf8), "magic"),
    ]
    for (data, expected) in cases {
      let reason = fileError { _ = try NumPyArray.decode(data, path: "case") }
      #expect(reason.contains(expected), "expected '\(expected)': \(reason)")
    }
  }
}
