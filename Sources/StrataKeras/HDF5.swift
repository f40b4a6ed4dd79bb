import CHDF5
import Foundation
import Strata
import StrataCore

/// An HDF5 file written in memory through Debian's libhdf5, then turned into bytes: what Keras'
/// weight files hold (groups, float32 and int64 datasets, string attributes), in the layout h5py
/// writes by default, so h5py, Keras and ``HDF5Reader`` read it.
///
/// Only Strata's own data goes through libhdf5: files from elsewhere are read by ``HDF5Reader``,
/// which checks every field (libhdf5 1.10.8 crashes on some corrupted files). HDF5's own printing of
/// its error stack is switched off; every failing call becomes a thrown
/// ``StrataError/file(path:reason:)`` naming the file and the object.
private let h5Default = hid_t(H5P_DEFAULT)
private let h5All = hid_t(H5S_ALL)

final class HDF5File {
  /// The file's name in errors (a path, or `archive.keras/model.weights.h5`).
  let path: String
  private let file: hid_t

  /// A new, empty HDF5 file in memory; ``image()`` gives its bytes.
  init(creatingIn path: String) throws {
    self.path = path
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
  private static func memoryName() -> String {
    "/nonexistent/strata-memory-\(UUID().uuidString).h5"
  }

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
  func write(
    strings values: [String], scalar: Bool = false, attribute name: String, of object: String
  )
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
