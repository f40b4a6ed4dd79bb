import Foundation
import StrataCore

/// Words of five languages from Debian's word lists (`/usr/share/dict`: packages `wamerican`,
/// `wngerman`, `wfrench`, `wspanish`, `witalian`), labelled by language: the data of the
/// `word-language` seed model, which tells a word's language from its letters.
///
/// The sample is fixed, so that any framework can draw the same one
/// (`Benchmarks/peers/sequence_seeds.py` does): from each list, the words of 3 to 16 lowercase
/// letters (`a`–`z`, `ß`–`ÿ` but `÷`, `œ`), sorted by code point; those found in another
/// language's list dropped (they say nothing about the language); then every `k`-th word, `k` the
/// whole part of `count / perLanguage`, up to `perLanguage` words. Of each language's sample, every
/// fifth word (positions 4, 9, …) is for testing, the rest for training.
public enum WordLanguages {
  /// The languages, in label order: their name and word list.
  public static let languages: [(name: String, file: String, package: String)] = [
    ("english", "american-english", "wamerican"), ("german", "ngerman", "wngerman"),
    ("french", "french", "wfrench"), ("spanish", "spanish", "wspanish"),
    ("italian", "italian", "witalian"),
  ]

  /// Where Debian installs the lists.
  public static let defaultDirectory = URL(fileURLWithPath: "/usr/share/dict")

  /// One split: the words and their language's index.
  public struct Split: Sendable {
    /// The words.
    public let words: [String]
    /// Each word's language, an index into ``WordLanguages/languages``.
    public let labels: [Int]
  }

  /// Whether `word` is 3 to 16 lowercase letters of the lists' alphabets.
  public static func isKept(_ word: Substring) -> Bool {
    let scalars = word.unicodeScalars
    guard (3...16).contains(scalars.count) else { return false }
    return scalars.allSatisfy { scalar in
      ("a"..."z").contains(scalar)
        || (scalar.value >= 0xDF && scalar.value <= 0xFF
          && scalar.value != 0xF7)
        || scalar.value == 0x153
    }
  }

  /// The training and test words, `perLanguage` per language before the split.
  /// - Throws: naming the Debian package of a missing list, or for a list that is not UTF-8.
  public static func load(
    from directory: URL = defaultDirectory, perLanguage: Int = 6000
  ) throws -> (train: Split, test: Split) {
    try checkArgument(
      perLanguage >= 5 && perLanguage <= 100_000, owner: "WordLanguages",
      argument: "perLanguage", value: "\(perLanguage)", expected: "5 to 100,000 words")
    var lists: [[String]] = []
    for language in languages {
      let url = directory.appendingPathComponent(language.file)
      guard FileManager.default.fileExists(atPath: url.path) else {
        throw StrataError.file(
          path: url.path,
          reason:
            "is missing: install Debian's word lists (apt-get install wamerican wngerman wfrench wspanish witalian)"
        )
      }
      let data = try readUntrustedFile(url, kind: "a word list")
      guard let text = String(validating: data, as: UTF8.self) else {
        throw StrataError.file(path: url.path, reason: "is not UTF-8 text")
      }
      let words = Set(text.split(separator: "\n").filter(isKept).map(String.init))
      // The kept words have no combining marks, so String's order (of NFC scalars) is the
      // code-point order.
      lists.append(words.sorted())
    }
    var counts: [String: Int] = [:]
    for list in lists { for word in list { counts[word, default: 0] += 1 } }
    var train: (words: [String], labels: [Int]) = ([], [])
    var test: (words: [String], labels: [Int]) = ([], [])
    for (label, list) in lists.enumerated() {
      let unique = list.filter { counts[$0] == 1 }
      let step = max(unique.count / perLanguage, 1)
      let sample = stride(from: 0, to: unique.count, by: step).prefix(perLanguage).map {
        unique[$0]
      }
      for (position, word) in sample.enumerated() {
        if position % 5 == 4 {
          test.words.append(word)
          test.labels.append(label)
        } else {
          train.words.append(word)
          train.labels.append(label)
        }
      }
    }
    return (
      Split(words: train.words, labels: train.labels), Split(words: test.words, labels: test.labels)
    )
  }
}
