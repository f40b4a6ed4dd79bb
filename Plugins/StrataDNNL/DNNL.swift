import CDNNL
import Foundation
import StrataCore

/// Fails loudly on a oneDNN error: every shape reaching here was validated by a layer, so an error is a
/// bug in Strata (or oneDNN), not something a user passed in.
@inline(__always)
func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
  guard status == dnnl_success else {
    fatalError("oneDNN: \(what()) failed with status \(status.rawValue)")
  }
}

/// A `dnnl_dims_t` argument: oneDNN reads as many entries as the operation has dimensions. A Swift array
/// passes C a pointer to contiguous storage (`&tuple.0` may pass a temporary holding one element).
func dims(_ values: [Int]) -> [Int64] {
  values.map(Int64.init) + [Int64](repeating: 0, count: 12 - values.count)
}

/// A memory descriptor of f32 data with logical `dimensions` (oneDNN order: N, C, H, W) stored as `tag`.
func memoryDescriptor(_ dimensions: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
  var descriptor = dnnl_memory_desc_t()
  check(
    dnnl_memory_desc_init_by_tag(
      &descriptor, Int32(dimensions.count), dims(dimensions), dnnl_f32, tag),
    "memory descriptor \(dimensions)")
  return descriptor
}

/// The CPU engine and the stream every primitive runs on.
final class DNNLRuntime: @unchecked Sendable {
  let engine: dnnl_engine_t
  let stream: dnnl_stream_t

  /// `nil` when oneDNN cannot start; the backend then computes with the reference loops.
  static let shared: DNNLRuntime? = DNNLRuntime()

  private init?() {
    var engine: dnnl_engine_t?
    guard dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success, let engine else { return nil }
    var stream: dnnl_stream_t?
    guard
      dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue))
        == dnnl_success, let stream
    else {
      return nil
    }
    self.engine = engine
    self.stream = stream
  }

  /// Creates a primitive (and its descriptor) from an operation descriptor.
  func primitive(
    _ operation: UnsafeRawPointer, attributes: const_dnnl_primitive_attr_t? = nil,
    hint: const_dnnl_primitive_desc_t? = nil, what: String
  )
    -> (dnnl_primitive_desc_t, dnnl_primitive_t)
  {
    var descriptor: dnnl_primitive_desc_t?
    check(
      dnnl_primitive_desc_create(&descriptor, operation, attributes, engine, hint),
      "\(what) descriptor")
    var primitive: dnnl_primitive_t?
    check(dnnl_primitive_create(&primitive, descriptor), "\(what) primitive")
    return (descriptor!, primitive!)
  }

  /// A memory object for `descriptor` whose data pointer is set at each execution.
  func memory(_ descriptor: dnnl_memory_desc_t) -> dnnl_memory_t {
    var descriptor = descriptor
    var memory: dnnl_memory_t?
    check(dnnl_memory_create(&memory, &descriptor, engine, nil), "memory")
    return memory!
  }

  /// Runs `primitive` with `arguments` (argument kind, memory, data pointer) and waits for it.
  func execute(
    _ primitive: dnnl_primitive_t, _ arguments: [(Int32, dnnl_memory_t, UnsafeRawPointer)]
  ) {
    var list = arguments.map { argument, memory, pointer -> dnnl_exec_arg_t in
      // Setting a handle zero-pads a blocked layout (a kernel with one input channel is padded to a
      // block): do it only when the buffer really changed, which in training is rarely.
      var current: UnsafeMutableRawPointer?
      if dnnl_memory_get_data_handle(memory, &current) != dnnl_success
        || current != UnsafeMutableRawPointer(mutating: pointer)
      {
        check(
          dnnl_memory_set_data_handle(memory, UnsafeMutableRawPointer(mutating: pointer)),
          "set data handle")
      }
      return dnnl_exec_arg_t(arg: argument, memory: memory)
    }
    check(dnnl_primitive_execute(primitive, stream, Int32(list.count), &list), "execute")
    check(dnnl_stream_wait(stream), "stream wait")
  }
}

/// A reorder between two layouts of the same weights, with the buffer of the non-Keras side.
final class WeightReorder {
  let primitive: dnnl_primitive_t?
  let from: dnnl_memory_t, to: dnnl_memory_t
  /// The weights in oneDNN's layout (nil when it is Keras' own), allocated when first used: an
  /// inference convolution keeps its kernels by version instead and never needs it.
  var buffer: UnsafeMutableRawPointer? {
    guard primitive != nil else { return nil }
    if let storage { return storage }
    let made = UnsafeMutableRawPointer.allocate(byteCount: max(64, chosenBytes), alignment: 64)
    storage = made
    return made
  }
  private var storage: UnsafeMutableRawPointer?
  private let chosenBytes: Int
  let chosen: dnnl_memory_t

  /// Reorders between Keras' HWIO (`user`) and oneDNN's choice; `toChosen` gives the direction.
  init(runtime: DNNLRuntime, user: dnnl_memory_desc_t, chosen: dnnl_memory_desc_t, toChosen: Bool) {
    var user = user, chosenDescriptor = chosen
    from = runtime.memory(toChosen ? user : chosenDescriptor)
    to = runtime.memory(toChosen ? chosenDescriptor : user)
    self.chosen = toChosen ? to : from
    chosenBytes = dnnl_memory_desc_get_size(&chosenDescriptor)
    if dnnl_memory_desc_equal(&user, &chosenDescriptor) != 0 {
      primitive = nil
    } else {
      var descriptor: dnnl_primitive_desc_t?
      if toChosen {
        check(
          dnnl_reorder_primitive_desc_create(
            &descriptor, &user, runtime.engine, &chosenDescriptor, runtime.engine, nil), "reorder")
      } else {
        check(
          dnnl_reorder_primitive_desc_create(
            &descriptor, &chosenDescriptor, runtime.engine, &user, runtime.engine, nil), "reorder")
      }
      var primitive: dnnl_primitive_t?
      check(dnnl_primitive_create(&primitive, descriptor), "reorder primitive")
      dnnl_primitive_desc_destroy(descriptor)  // the primitive keeps what it needs
      self.primitive = primitive
    }
  }

  deinit {
    if let primitive { dnnl_primitive_destroy(primitive) }
    dnnl_memory_destroy(from)
    dnnl_memory_destroy(to)
    storage?.deallocate()
  }

  /// The Keras weights last reordered, to skip the reorder when they have not changed (inference,
  /// evaluation): comparing a few kilobytes costs less than a primitive's launch.
  private var lastReordered: [UInt8] = []

  /// From Keras' weights at `user` (`bytes` long) to oneDNN's layout; returns the pointer to hand the primitive.
  func toChosen(_ runtime: DNNLRuntime, _ user: UnsafeRawPointer, bytes: Int) -> UnsafeRawPointer {
    guard let primitive, let buffer else { return user }
    let unchanged =
      lastReordered.count == bytes
      && lastReordered.withUnsafeBytes { memcmp($0.baseAddress!, user, bytes) == 0 }
    if !unchanged {
      runtime.execute(
        primitive, [(DNNL_ARG_FROM, from, user), (DNNL_ARG_TO, to, UnsafeRawPointer(buffer))])
      if lastReordered.count != bytes { lastReordered = [UInt8](repeating: 0, count: bytes) }
      lastReordered.withUnsafeMutableBytes {
        $0.baseAddress!.copyMemory(from: user, byteCount: bytes)
      }
    }
    return UnsafeRawPointer(buffer)
  }

  /// From Keras' weights at `user` into `target`, a buffer of oneDNN's layout (a copy when the
  /// layouts are the same).
  func reorder(
    _ runtime: DNNLRuntime, _ user: UnsafeRawPointer, into target: UnsafeMutableRawPointer
  ) {
    guard let primitive else {
      var pointer: UnsafePointer<dnnl_memory_desc_t>?
      dnnl_memory_get_memory_desc(from, &pointer)
      var descriptor = pointer!.pointee
      target.copyMemory(from: user, byteCount: dnnl_memory_desc_get_size(&descriptor))
      return
    }
    runtime.execute(
      primitive, [(DNNL_ARG_FROM, from, user), (DNNL_ARG_TO, to, UnsafeRawPointer(target))])
  }

  /// Where a primitive should write weights in its layout, to be brought back with ``toUser(_:_:)``.
  func chosenTarget(_ user: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer { buffer ?? user }

  /// From oneDNN's layout (in the buffer) to Keras' weights at `user`.
  func toUser(_ runtime: DNNLRuntime, _ user: UnsafeMutableRawPointer) {
    guard let primitive, let buffer else { return }
    runtime.execute(
      primitive,
      [(DNNL_ARG_FROM, from, UnsafeRawPointer(buffer)), (DNNL_ARG_TO, to, UnsafeRawPointer(user))])
  }
}
