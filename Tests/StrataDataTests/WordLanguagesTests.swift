import Foundation
import StrataCore
import StrataData
import Testing

/// The word-language data: Debian's lists sampled by fixed rules (the peer script draws the same).
@Suite struct WordLanguagesTests {
  @Test func samplesEachLanguageByTheRules() throws {
    let (train, test) = try WordLanguages.load(perLanguage: 50)
    // 50 a language: every fifth for testing.
    #expect(train.words.count == 5 * 40 && test.words.count == 5 * 10)
    #expect(Set(train.labels) == [0, 1, 2, 3, 4] && Set(test.labels) == [0, 1, 2, 3, 4])
    #expect(Set(train.words).isDisjoint(with: test.words))
    for word in train.words + test.words {
      #expect(WordLanguages.isKept(word[...]), "\(word)")
    }
    // Sorted in code-point order within a language, and the same sample every time.
    let english = train.words.enumerated().filter { train.labels[$0.offset] == 0 }.map(\.element)
    #expect(
      english == english.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) })
    // A word of two languages' lists is in neither sample: "radio" is English and Italian.
    let all = try WordLanguages.load(perLanguage: 100_000)
    #expect(!all.train.words.contains("radio") && !all.test.words.contains("radio"))
    #expect(all.train.words.first == "aardvark")
  }

  @Test func rulesKeepLowercaseLetterWords() {
    #expect(WordLanguages.isKept("straße") && WordLanguages.isKept("cœur"))
    #expect(!WordLanguages.isKept("ab") && !WordLanguages.isKept("Berlin"))
    #expect(!WordLanguages.isKept("don't") && !WordLanguages.isKept("a÷bc"))
    #expect(!WordLanguages.isKept("abcdefghijklmnopq"))
  }

  @Test func aMissingListNamesThePackages() throws {
    let empty = FileManager.default.temporaryDirectory
      .appendingPathComponent("no-dict-\(UUID().uuidString)")
    do {
      _ = try WordLanguages.load(from: empty)
      Issue.record("loaded from an empty directory")
    } catch {
      #expect("\(error)".contains("american-english") && "\(error)".contains("wamerican"))
    }
  }
}
