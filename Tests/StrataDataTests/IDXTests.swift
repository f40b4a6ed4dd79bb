import Foundation
import StrataCore
import StrataData
import Testing

func temporaryFile(_ bytes: [UInt8], name: String = UUID().uuidString) throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(name)
  try Data(bytes).write(to: url)
  return url
}

/// An IDX header for unsigned bytes of `shape`.
func idxHeader(_ shape: [Int]) -> [UInt8] {
  [0, 0, 8, UInt8(shape.count)]
    + shape.flatMap { d in (0..<4).reversed().map { UInt8((d >> (8 * $0)) & 0xFF) } }
}

@Test func readsRawIDX() throws {
  let url = try temporaryFile(idxHeader([2, 3]) + [1, 2, 3, 4, 5, 6])
  let array = try IDXArray(contentsOf: url)
  #expect(array.shape == [2, 3])
  #expect(array.bytes == [1, 2, 3, 4, 5, 6])
}

@Test func rejectsBadFilesWithClearErrors() throws {
  let cases: [([UInt8], String)] = [
    ([1, 0, 8, 1, 0, 0, 0, 1, 5], "bad magic number"),
    ([0, 0, 0x0D, 1, 0, 0, 0, 1, 5], "only unsigned bytes"),
    (idxHeader([2, 3]) + [1, 2, 3], "holds 3 bytes of data, but its dimensions [2, 3] need 6"),
    ([0, 0, 8, 3, 0, 0], "truncated in its header"),
    ([0x1F, 0x8B, 8, 0, 1, 2, 3, 4, 5, 6, 7], "gzip"),
  ]
  for (bytes, message) in cases {
    let url = try temporaryFile(bytes)
    do {
      _ = try IDXArray(contentsOf: url)
      Issue.record("accepted a bad file: \(message)")
    } catch {
      #expect("\(error)".contains(message), "\(error)")
    }
  }
  #expect(throws: StrataError.file(path: "/nonexistent/x.idx", reason: "no such file")) {
    try IDXArray(contentsOf: URL(fileURLWithPath: "/nonexistent/x.idx"))
  }
}

@Test func missingDataSetNamesTheDebianPackage() {
  do {
    _ = try FashionMNIST.load(from: URL(fileURLWithPath: "/nonexistent"))
    Issue.record("loaded from a missing directory")
  } catch {
    #expect("\(error)".contains("dataset-fashion-mnist"))
  }
}

/// The real data set, from Debian's package: sizes, labels, and the first training image's statistics.
@Test func readsFashionMNIST() throws {
  let (train, test) = try FashionMNIST.load()
  #expect(train.images.shape == [60000, 28, 28])
  #expect(test.images.shape == [10000, 28, 28])
  #expect(Set(train.labels) == Set(0...9))
  // Fashion-MNIST is balanced: 6,000 of each class in training, 1,000 in test.
  #expect(train.labels.filter { $0 == 3 }.count == 6000)
  #expect(test.labels.filter { $0 == 7 }.count == 1000)
  #expect(train.labels.prefix(5) == [9, 0, 0, 3, 0])
  let first = train.prefix(1).normalizedImages()
  #expect(first.shape == [1, 28, 28])
  #expect(first.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
  #expect(first.scalars.max() == 1)
}

/// Bytes converted per batch give the tutorials' `x / 255` to the same bits; subsets share the bytes.
@Test func byteImagesMatchNormalizedImages() throws {
  let (train, _) = try FashionMNIST.load()
  let part = train.prefix(100)
  let data = try ByteImages(part, sampleShape: [28, 28, 1])
  var batch = data.makeBatch(capacity: 8)
  data.gather([3, 97, 0, 50], into: &batch)
  let all = part.normalizedImages()
  let expected = [3, 97, 0, 50].flatMap { Array(all.scalars[($0 * 784)..<(($0 + 1) * 784)]) }
  #expect(batch.x[0].shape == [4, 28, 28, 1])
  #expect(batch.x[0].scalars == expected)
  #expect(batch.y[0].scalars == [3, 97, 0, 50].map { Float(part.labels[$0]) })
  let tail = data.rows(90..<100)
  #expect(tail.count == 10)
  tail.gather([0], into: &batch)
  #expect(batch.x[0].scalars == Array(all.scalars[(90 * 784)..<(91 * 784)]))
  #expect(throws: StrataError.self) { try ByteImages(part, sampleShape: [27, 28]) }
}
