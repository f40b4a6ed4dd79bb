import Foundation
import Strata
import StrataCore

/// Called once, the first time Strata reads or writes a Keras file (see `Sources/StrataKerasAutoload`):
/// installs this module's reader and writer.
@_cdecl("strata_register_keras")
func registerKerasFiles() { KerasFiles.install(KerasFile.self) }

extension KerasFile: KerasFileCodec {
  static func loadModel(from file: UntrustedFile, format: ModelFileFormat, path: String) throws
    -> Model
  {
    switch format {
    case .keras: return try loadModel(keras: ZipArchive.Source(file), path: path)
    default: return try loadModel(hdf5: file.read(at: 0, count: file.size), path: path)
    }
  }
}
