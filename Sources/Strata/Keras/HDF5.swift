import CHDF5
import Foundation
import StrataCore

/// An HDF5 file held in memory, through Debian's libhdf5: opened from bytes (a file read whole, or a
/// zip member) or created empty, and turned back into bytes. Only what Keras' weight files use:
/// groups, float32 and integer datasets, string attributes.
///
/// HDF5's own printing of its error stack is switched off; every failing call becomes a thrown
/// ``StrataError/file(path:reason:)`` naming the file and the object. The file may be hostile: shapes
/// are checked against ``Limits`` and against the file's own size before anything is allocated.
private let h5Default = hid_t(H5P_DEFAULT)
private let h5All = hid_t(H5S_ALL)

final class HDF5File {
  /// The file's name in errors (a path, or `archive.keras/model.weights.h5`).
  let path: String
  private let file: hid_t
  /// The bytes of the image the file was opened from (0 for a new file): no dataset may hold more.
  private let imageBytes: Int

  /// Opens the HDF5 file in `image` read-only.
  /// - Throws: ``StrataError/file(path:reason:)`` when the bytes are not an HDF5 file.
  init(image: Data, path: String) throws {
    self.path = path
    imageBytes = image.count
    HDF5File.silence()
    guard image.count >= 8, image.prefix(8).elementsEqual(HDF5File.signature) else {
      throw StrataError.file(path: path, reason: "is not an HDF5 file (bad signature)")
    }
    let access = H5Pcreate(strata_h5p_file_access())
    defer { H5Pclose(access) }
    var opened: hid_t = -1
    if access >= 0, H5Pset_fapl_core(access, 1 << 16, false) >= 0 {
      let stored = image.withUnsafeBytes { H5Pset_file_image(access, UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) }
      if stored >= 0 { opened = H5Fopen(HDF5File.memoryName(), strata_h5f_acc_rdonly(), access) }
    }
    guard opened >= 0 else {
      throw StrataError.file(path: path, reason: "is not a readable HDF5 file")
    }
    file = opened
  }

  /// A new, empty HDF5 file in memory; ``image()`` gives its bytes.
  init(creatingIn path: String) throws {
    self.path = path
    imageBytes = 0
    HDF5File.silence()
    let access = H5Pcreate(strata_h5p_file_access())
    defer { H5Pclose(access) }
    var created: hid_t = -1
    if access >= 0, H5Pset_fapl_core(access, 1 << 16, false) >= 0 {
      created = H5Fcreate(HDF5File.memoryName(), strata_h5f_acc_trunc(), h5Default, access)
    }
    guard created >= 0 else {
      throw StrataError.file(path: path, reason: "cannot be created in memory by HDF5")
    }
    file = created
  }

  deinit { H5Fclose(file) }

  /// The 8 bytes every HDF5 file starts with (at offset 0 for the files Strata reads).
  static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

  /// A name no file on disk has: HDF5's in-memory driver refuses a name that exists.
  private static func memoryName() -> String { "/nonexistent/strata-memory-\(UUID().uuidString).h5" }

  /// Switches off HDF5's printing of errors on this thread (HDF5 keeps the setting per thread).
  private static func silence() { strata_h5_silence() }

  private func failure(_ object: String, _ reason: String) -> StrataError {
    .file(path: path, reason: "\(reason) at '\(object.prefix(200))'")
  }

  // MARK: Reading

  /// Whether `object` (a `/`-separated path) exists; each step is checked, as HDF5 requires.
  func exists(_ object: String) -> Bool {
    HDF5File.silence()
    var prefix = ""
    for component in object.split(separator: "/") {
      prefix += (prefix.isEmpty ? "" : "/") + component
      guard H5Lexists(file, prefix, h5Default) > 0 else { return false }
    }
    return H5Oexists_by_name(file, object.isEmpty ? "." : object, h5Default) > 0
  }

  /// How many links the group `object` holds.
  func childCount(_ object: String) throws -> Int {
    HDF5File.silence()
    let group = H5Gopen2(file, object, h5Default)
    guard group >= 0 else { throw failure(object, "has no group") }
    defer { H5Gclose(group) }
    var info = H5G_info_t()
    guard H5Gget_info(group, &info) >= 0 else { throw failure(object, "has an unreadable group") }
    return Int(clamping: info.nlinks)
  }

  /// The shape of dataset `object`, checked against the limits.
  private func shape(of dataset: hid_t, _ object: String) throws -> [Int] {
    let space = H5Dget_space(dataset)
    guard space >= 0 else { throw failure(object, "has a dataset without a dataspace") }
    defer { H5Sclose(space) }
    let rank = H5Sget_simple_extent_ndims(space)
    guard (0...8).contains(rank) else {
      throw failure(object, "has a dataset of rank \(rank) (at most 8 is read)")
    }
    var dims = [hsize_t](repeating: 0, count: Int(rank))
    guard H5Sget_simple_extent_dims(space, &dims, nil) == rank else {
      throw failure(object, "has a dataset with unreadable dimensions")
    }
    let shape = dims.map { Int(clamping: $0) }
    let count: Int
    do { count = try elementCount(of: shape, owner: "dataset '\(object.prefix(200))'") } catch {
      throw failure(object, "has a dataset of impossible shape \(shape)")
    }
    // Keras writes its weights uncompressed: a dataset claiming more than the file holds is refused
    // before its buffer is allocated.
    guard count.multipliedReportingOverflow(by: 4).partialValue <= max(imageBytes, 0),
      count < Int.max / 8
    else {
      throw failure(
        object, "has a dataset of shape \(shape), more than the file's \(imageBytes) bytes hold")
    }
    return shape
  }

  /// Reads the floating-point dataset `object` as Float32 (float64 data converted).
  func readTensor(_ object: String) throws -> Tensor {
    HDF5File.silence()
    guard exists(object) else { throw failure(object, "has no dataset") }
    let dataset = H5Dopen2(file, object, h5Default)
    guard dataset >= 0 else { throw failure(object, "has no dataset") }
    defer { H5Dclose(dataset) }
    let type = H5Dget_type(dataset)
    guard type >= 0 else { throw failure(object, "has a dataset of unreadable type") }
    let typeClass = H5Tget_class(type)
    H5Tclose(type)
    guard typeClass == H5T_FLOAT || typeClass == H5T_INTEGER else {
      throw failure(object, "has a dataset that is not numeric")
    }
    let shape = try shape(of: dataset, object)
    var tensor = Tensor(shape: shape)
    let status = tensor.withUnsafeMutableBufferPointer { values in
      H5Dread(dataset, strata_h5t_native_float(), h5All, h5All, h5Default, values.baseAddress)
    }
    guard status >= 0 else { throw failure(object, "has a dataset HDF5 cannot read") }
    guard tensor.withUnsafeBufferPointer({ $0.allSatisfy { $0.isFinite } }) else {
      throw failure(object, "has a dataset holding NaN or infinite values")
    }
    return tensor
  }

  /// Reads the scalar integer dataset `object` (Keras' optimizer iteration count).
  func readInteger(_ object: String) throws -> Int64 {
    HDF5File.silence()
    guard exists(object) else { throw failure(object, "has no dataset") }
    let dataset = H5Dopen2(file, object, h5Default)
    guard dataset >= 0 else { throw failure(object, "has no dataset") }
    defer { H5Dclose(dataset) }
    guard try shape(of: dataset, object).reduce(1, *) == 1 else {
      throw failure(object, "has a dataset that is not a single number")
    }
    var value: Int64 = 0
    guard
      H5Dread(dataset, strata_h5t_native_int64(), h5All, h5All, h5Default, &value) >= 0
    else { throw failure(object, "has a dataset HDF5 cannot read as an integer") }
    return value
  }

  /// The string attribute `name` of `object`: one string, or a list (fixed-length byte strings, as
  /// tf.keras 2 wrote them, or variable-length UTF-8, as h5py writes them). `nil` when absent.
  func readStrings(_ object: String, attribute name: String) throws -> [String]? {
    HDF5File.silence()
    guard H5Aexists_by_name(file, object, name, h5Default) > 0 else { return nil }
    let attribute = H5Aopen_by_name(file, object, name, h5Default, h5Default)
    guard attribute >= 0 else { throw failure(object, "has an unreadable attribute '\(name)'") }
    defer { H5Aclose(attribute) }
    let type = H5Aget_type(attribute)
    guard type >= 0 else { throw failure(object, "has an attribute '\(name)' of unreadable type") }
    defer { H5Tclose(type) }
    let space = H5Aget_space(attribute)
    guard space >= 0 else { throw failure(object, "has an attribute '\(name)' without a dataspace") }
    defer { H5Sclose(space) }
    let points = H5Sget_simple_extent_npoints(space)
    guard points >= 0, points <= (1 << 20) else {
      throw failure(object, "has an attribute '\(name)' of \(points) values")
    }
    let count = Int(points)
    if H5Tget_class(type) == H5T_FLOAT {  // h5py writes an empty list as float64
      return count == 0 ? [] : nil
    }
    guard H5Tget_class(type) == H5T_STRING else {
      throw failure(object, "has an attribute '\(name)' that is not a string")
    }
    if H5Tis_variable_str(type) > 0 {
      let memory = H5Tcopy(strata_h5t_c_s1())
      defer { H5Tclose(memory) }
      H5Tset_size(memory, Int(bitPattern: UInt(bitPattern: -1)))  // H5T_VARIABLE
      H5Tset_cset(memory, H5Tget_cset(type))
      var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
      guard H5Aread(attribute, memory, &pointers) >= 0 else {
        throw failure(object, "has an attribute '\(name)' HDF5 cannot read")
      }
      defer { for pointer in pointers where pointer != nil { H5free_memory(pointer) } }
      return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }
    let size = H5Tget_size(type)
    let (total, overflow) = size.multipliedReportingOverflow(by: count)
    guard size > 0, !overflow, total <= max(imageBytes, 1 << 16) else {
      throw failure(object, "has an attribute '\(name)' larger than its file")
    }
    var bytes = [UInt8](repeating: 0, count: total)
    guard H5Aread(attribute, type, &bytes) >= 0 else {
      throw failure(object, "has an attribute '\(name)' HDF5 cannot read")
    }
    return (0..<count).map { index in
      let field = bytes[(index * size)..<((index + 1) * size)]
      return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }
  }

  // MARK: Writing

  /// Creates the group `object` and any missing groups above it.
  func createGroup(_ object: String) throws {
    HDF5File.silence()
    guard !exists(object) else { return }
    let links = H5Pcreate(strata_h5p_link_create())
    defer { H5Pclose(links) }
    H5Pset_create_intermediate_group(links, 1)
    let group = H5Gcreate2(file, object, links, h5Default, h5Default)
    guard group >= 0 else { throw failure(object, "cannot create a group") }
    H5Gclose(group)
  }

  /// Writes `tensor` as the little-endian float32 dataset `object` (groups above it created).
  func write(_ tensor: Tensor, to object: String) throws {
    try writeDataset(
      object, shape: tensor.shape, fileType: strata_h5t_ieee_f32le(),
      memoryType: strata_h5t_native_float()
    ) { write in tensor.withUnsafeBufferPointer { write(UnsafeRawPointer($0.baseAddress!)) } }
  }

  /// Writes `value` as the scalar int64 dataset `object`.
  func write(integer value: Int64, to object: String) throws {
    try writeDataset(
      object, shape: [], fileType: strata_h5t_std_i64le(), memoryType: strata_h5t_native_int64()
    ) { write in withUnsafePointer(to: value) { write(UnsafeRawPointer($0)) } }
  }

  private func writeDataset(
    _ object: String, shape: [Int], fileType: hid_t, memoryType: hid_t,
    values: ((UnsafeRawPointer) -> herr_t) -> herr_t
  ) throws {
    HDF5File.silence()
    if let slash = object.lastIndex(of: "/") { try createGroup(String(object[..<slash])) }
    var dims = shape.map { hsize_t($0) }
    let space =
      shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(shape.count), &dims, nil)
    guard space >= 0 else { throw failure(object, "cannot describe a dataset") }
    defer { H5Sclose(space) }
    let dataset = H5Dcreate2(file, object, fileType, space, h5Default, h5Default, h5Default)
    guard dataset >= 0 else { throw failure(object, "cannot create a dataset") }
    defer { H5Dclose(dataset) }
    let status = values { H5Dwrite(dataset, memoryType, h5All, h5All, h5Default, $0) }
    guard status >= 0 else { throw failure(object, "cannot write a dataset") }
  }

  /// Sets the attribute `name` of `object` to `value`: one variable-length UTF-8 string, or a list
  /// of them, as h5py writes them.
  func write(strings values: [String], scalar: Bool = false, attribute name: String, of object: String)
    throws
  {
    HDF5File.silence()
    let type = H5Tcopy(strata_h5t_c_s1())
    defer { H5Tclose(type) }
    H5Tset_size(type, Int(bitPattern: UInt(bitPattern: -1)))
    H5Tset_cset(type, H5T_CSET_UTF8)
    var dims = [hsize_t(values.count)]
    let space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
    defer { H5Sclose(space) }
    let attribute = H5Acreate_by_name(
      file, object, name, type, space, h5Default, h5Default, h5Default)
    guard attribute >= 0 else { throw failure(object, "cannot create the attribute '\(name)'") }
    defer { H5Aclose(attribute) }
    var pointers = values.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    let status = pointers.withUnsafeMutableBufferPointer {
      H5Awrite(attribute, type, UnsafeRawPointer($0.baseAddress!))
    }
    guard status >= 0 else { throw failure(object, "cannot write the attribute '\(name)'") }
  }

  /// The file's bytes: a complete HDF5 file.
  func image() throws -> Data {
    HDF5File.silence()
    guard H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0 else {
      throw StrataError.file(path: path, reason: "cannot be flushed by HDF5")
    }
    let size = H5Fget_file_image(file, nil, 0)
    guard size > 0 else { throw StrataError.file(path: path, reason: "has no image in memory") }
    var data = Data(count: size)
    let written = data.withUnsafeMutableBytes { H5Fget_file_image(file, $0.baseAddress, size) }
    guard written == size else {
      throw StrataError.file(path: path, reason: "cannot be copied out of HDF5")
    }
    return data
  }
}
