import Foundation
import StrataCore
import StrataData
import StrataTesting
import Testing

/// The text preprocessors' single-string calls, and their refusals of arguments Keras would refuse
/// or Strata cannot honour, each naming the argument and the value.
@Suite struct LookupRefusalTests {
  @Test func stringLookupMapsSingleStrings() throws {
    let lookup = try StringLookup()
    try lookup.adapt(["b", "a", "a", "c", "a", "b"])
    // By frequency, out-of-vocabulary first: [UNK], a, b, c.
    #expect(lookup.vocabulary == ["[UNK]", "a", "b", "c"])
    #expect(lookup.vocabularySize == 4)
    #expect(try lookup(["c", "a", "zebra"]).scalars == [3, 1, 0])
    #expect(try lookup(["c", "a", "zebra"]).shape == [3])
    let counts = try StringLookup(vocabulary: ["x", "y"], outputMode: "count")
    #expect(try counts(["y", "q"]).scalars == [0, 0, 1, 1, 0, 0])
  }

  @Test func integerLookupRefusesValuesItCannotHold() throws {
    let lookup = try IntegerLookup(vocabulary: [7, 3])
    #expect(lookup.vocabularySize == 3)
    #expect(try lookup(Tensor([3, 7, 5])).scalars == [2, 1, 0])
    for value: Float in [0.5, 3e7] {
      #expect(
        refusal { try lookup(Tensor([value])) }
          == .invalidArgument(
            owner: "IntegerLookup", argument: "input", value: "\(value)",
            expected: "whole numbers up to 2^24 in magnitude"))
    }
  }

  @Test func kerasConfigsOfTextLayersAreChecked() throws {
    #expect(
      refusal { try TextVectorization(ngrams: 0) }
        == .invalidArgument(
          owner: "TextVectorization", argument: "ngrams", value: "0",
          expected: "a width from 1 to 16"))
    #expect(
      refusal { try TextVectorization(kerasConfig: ["ngrams": "two"]) }
        == .invalidArgument(
          owner: "TextVectorization", argument: "ngrams", value: "\"two\"",
          expected: "an integer, a list of integers or null"))
    #expect(
      refusal { try TextVectorization(kerasConfig: ["max_tokens": 2.5]) }
        == .invalidArgument(
          owner: "TextVectorization", argument: "max_tokens", value: "2.5",
          expected: "an integer or null"))
    let stringLookupCases: [(ConfigDictionary, String, String, String)] = [
      (["invert": true], "invert", "true", "false"),
      (["sparse": true], "sparse", "true", "false"),
      (["oov_token": 3], "oov_token", "3", "a string or null"),
      (["max_tokens": "many"], "max_tokens", "\"many\"", "an integer or null"),
      (
        ["output_mode": "one_hot", "mask_token": ""], "mask_token", "''",
        "null with output_mode \"one_hot\""
      ),
    ]
    for (config, argument, value, expected) in stringLookupCases {
      #expect(
        refusal { try StringLookup(kerasConfig: config) }
          == .invalidArgument(
            owner: "StringLookup", argument: argument, value: value, expected: expected),
        "\(config)")
    }
  }
}
