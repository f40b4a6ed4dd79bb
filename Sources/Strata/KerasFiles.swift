import CStrataHook
import Foundation
import StrataCore
import Synchronization

/// What reads and writes Keras' files (`.keras`, `.weights.h5`, legacy `.h5`) for ``loadModel(from:)``,
/// `save(to:)`, `saveWeights(to:)` and `loadWeights(from:)`: the StrataKeras module, which installs
/// itself when a program links it. Strata holds no zip or HDF5 code and links no libhdf5.
package protocol KerasFileCodec: SendableMetatype {
  /// The model in the Keras file `file` (of `format`, `.keras` or `.hdf5`).
  static func loadModel(from file: UntrustedFile, format: ModelFileFormat, path: String) throws
    -> Model
  /// Keras' weights from `file` into `model`.
  static func loadWeights(
    into model: Model, format: ModelFileFormat, file: UntrustedFile, path: String) throws
  /// The bytes of a `.keras` archive of `model`.
  static func kerasArchive(of model: Model, path: String) throws -> Data
  /// The bytes of a `.weights.h5` file of `model`'s weights.
  static func weightsImage(of model: Model, path: String, withOptimizer: Bool) throws -> Data
}

/// The installed ``KerasFileCodec``, if StrataKeras is linked.
package enum KerasFiles {
  private static let installed = Mutex<(any KerasFileCodec.Type)?>(nil)
  /// Set by StrataKeras at program start (a C constructor); absent when it is not linked.
  private static let hook: Void = strata_run_keras_hook()

  /// Installs `codec`: StrataKeras calls this once.
  package static func install(_ codec: any KerasFileCodec.Type) {
    installed.withLock { $0 = codec }
  }

  /// The codec for the Keras file at `path`.
  /// - Throws: ``StrataError/file(path:reason:)`` saying to link StrataKeras, when it is not.
  package static func codec(for path: String) throws -> any KerasFileCodec.Type {
    _ = hook
    guard let codec = installed.withLock({ $0 }) else {
      throw StrataError.file(
        path: path,
        reason:
          "is a Keras file; Keras' formats are read and written by the StrataKeras module: add the StrataKeras product to the target's dependencies and `import StrataKeras`"
      )
    }
    return codec
  }
}
