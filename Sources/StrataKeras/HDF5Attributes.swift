import Foundation
import Strata
import StrataCore

/// The string attributes Keras writes (layer and weight names, the model config).
extension HDF5Reader {

  /// The string attribute `name` of `object`: one string or a list; `nil` when absent; `[]` for
  /// h5py's empty list (stored as float64).
  func readStrings(_ object: String, attribute name: String) throws -> [String]? {
    guard let header = try resolve(object) else {
      throw corrupt("has no object '\(object.prefix(200))'")
    }
    for message in try messages(at: header) where message.type == 0x0C {
      let version = try byte(message.start)
      guard (1...3).contains(version) else {
        throw corrupt("has an HDF5 attribute of version \(version)")
      }
      let nameSize = try uint(message.start + 2, 2)
      let typeSize = try uint(message.start + 4, 2)
      let spaceSize = try uint(message.start + 6, 2)
      func padded(_ n: Int) -> Int { version == 1 ? (n + 7) / 8 * 8 : n }
      let nameStart = message.start + (version == 3 ? 9 : 8)
      guard nameSize > 0, nameStart + nameSize <= message.start + message.size else {
        throw corrupt("has a malformed HDF5 attribute")
      }
      let attributeName = String(
        decoding: bytes[nameStart..<(nameStart + nameSize - 1)], as: UTF8.self)
      guard attributeName == name else { continue }
      let typeStart = nameStart + padded(nameSize)
      let spaceStart = typeStart + padded(typeSize)
      let dataStart = spaceStart + padded(spaceSize)
      let end = message.start + message.size
      guard dataStart <= end else { throw corrupt("has a malformed HDF5 attribute '\(name)'") }
      let count = try dataSpace(spaceStart).reduce(1) {
        $0.multipliedReportingOverflow(by: $1).partialValue
      }
      guard count >= 0, count <= 1 << 20 else {
        throw corrupt("has an attribute '\(name)' of \(count) values")
      }
      switch try dataType(typeStart) {
      case .float where count == 0: return []
      case .fixedString(let size):
        guard count <= (end - dataStart) / size else {
          throw corrupt("has an attribute '\(name)' past its end")
        }
        return (0..<count).map { index in
          let field = bytes[(dataStart + index * size)..<(dataStart + (index + 1) * size)]
          return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
        }
      case .variableString:
        let elementSize = 4 + offsetSize + 4
        guard count <= (end - dataStart) / elementSize else {
          throw corrupt("has an attribute '\(name)' past its end")
        }
        return try (0..<count).map { index in
          let element = dataStart + index * elementSize
          return try globalHeapString(
            length: try uint(element, 4), collection: try address(element + 4),
            index: try uint(element + 4 + offsetSize, 4))
        }
      default:
        throw corrupt("has an attribute '\(name)' that is not a string")
      }
    }
    return nil
  }

  /// The string of `length` bytes stored as object `index` of the global heap collection at `collection`.
  func globalHeapString(length: Int, collection: Int, index: Int) throws -> String {
    try signature(collection, "GCOL")
    let size = try uint(collection + 8, lengthSize)
    guard size >= 8 + lengthSize, size <= bytes.count - collection else {
      throw corrupt("has an HDF5 global heap past its end")
    }
    let end = collection + size
    var at = collection + 8 + lengthSize
    while at + 8 + lengthSize <= end {
      let objectIndex = try uint(at, 2)
      let objectSize = try uint(at + 8, lengthSize)
      let dataStart = at + 8 + lengthSize
      guard objectIndex != 0 else { break }  // the free space: the objects end
      guard objectSize <= end - dataStart else {
        throw corrupt("has an HDF5 global heap object past its heap")
      }
      if objectIndex == index {
        guard length <= objectSize else {
          throw corrupt("has a string longer than its HDF5 heap object")
        }
        return String(decoding: bytes[dataStart..<(dataStart + length)], as: UTF8.self)
      }
      at = dataStart + (objectSize + 7) / 8 * 8
    }
    throw corrupt("has a string that is not in its HDF5 global heap")
  }
}
