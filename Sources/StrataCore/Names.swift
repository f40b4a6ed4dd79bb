/// Keras' `naming.to_snake_case`, rule for rule: non-word characters dropped, then `_` put before
/// each capitalized word (`(.)([A-Z][a-z]+)`), then between a lowercase and a capital letter
/// (`([a-z])([A-Z])`), each scan left to right without overlaps as Python's `re.sub` does, then
/// lower-cased. `"MaxPooling2D"` → `"max_pooling2d"`, `"PReLU"` → `"p_re_lu"`, `"a_Bc"` → `"a__bc"`.
/// Keras names layers (`dense_1`) and the groups of `model.weights.h5` with it.
public func kerasSnakeCase(_ name: String) -> String {
  func isUpper(_ c: Character) -> Bool { ("A"..."Z").contains(c) }
  func isLower(_ c: Character) -> Bool { ("a"..."z").contains(c) }
  let word = Array(name.filter { $0.isLetter || $0.isNumber || $0 == "_" })
  // `(.)([A-Z][a-z]+)` → `\1_\2`: a match takes the character before the word and the whole word.
  var first: [Character] = []
  var i = 0
  while i < word.count {
    var end = i + 2
    while end < word.count, isLower(word[end]) { end += 1 }
    if i + 2 < word.count, isUpper(word[i + 1]), end > i + 2 {
      first.append(word[i])
      first.append("_")
      first.append(contentsOf: word[(i + 1)..<end])
      i = end
    } else {
      first.append(word[i])
      i += 1
    }
  }
  // `([a-z])([A-Z])` → `\1_\2`: a match takes both letters.
  var second: [Character] = []
  i = 0
  while i < first.count {
    if i + 1 < first.count, isLower(first[i]), isUpper(first[i + 1]) {
      second.append(contentsOf: [first[i], "_", first[i + 1]])
      i += 2
    } else {
      second.append(first[i])
      i += 1
    }
  }
  return String(second).lowercased()
}

/// Keras' automatic layer name for a class name: ``kerasSnakeCase(_:)`` of it. A plugin's qualified
/// identifier (`"Acme>PReLU"`) uses its plain name.
public func kerasLayerName(for identifier: String) -> String {
  kerasSnakeCase(identifier.split(separator: ">").last.map(String.init) ?? identifier)
}
