/// Keras' automatic layer name for a class name: `"MaxPooling2D"` → `"max_pooling2d"`,
/// `"PReLU"` → `"p_re_lu"`. A plugin's qualified identifier (`"Acme>PReLU"`) uses its plain name.
public func kerasLayerName(for identifier: String) -> String {
  let plain = identifier.split(separator: ">").last.map(String.init) ?? identifier
  let characters = Array(plain.filter { $0.isLetter || $0.isNumber || $0 == "_" })
  // Keras: `(.)([A-Z][a-z]+)` → `\1_\2`, then `([a-z])([A-Z])` → `\1_\2`, then lower-case.
  var first: [Character] = []
  for (i, c) in characters.enumerated() {
    if i > 0, c.isUppercase, i + 1 < characters.count, characters[i + 1].isLowercase,
      first.last != "_"
    {
      first.append("_")
    }
    first.append(c)
  }
  var second: [Character] = []
  for (i, c) in first.enumerated() {
    if i > 0, c.isUppercase, first[i - 1].isLowercase { second.append("_") }
    second.append(c)
  }
  return String(second).lowercased()
}
