import Foundation
import StrataCore
import StrataData
import Testing

@Suite struct CSVTests {
  @Test func readsFeaturesAndNamedLabels() throws {
    let table = try CSVTable(
      text: """
        length, width,"kind, as named"
        1.5,2,"setosa"

        3,-4.25,virginica\r
        0.5,"1e2",setosa
        """)
    #expect(table.header == ["length", "width", "kind, as named"])
    #expect(table.rows.count == 3)
    let (x, y, names) = try table.columns(label: "kind, as named")
    #expect(x.shape == [3, 2] && x.scalars == [1.5, 2, 3, -4.25, 0.5, 100])
    #expect(names == ["setosa", "virginica"] && y.scalars == [0, 1, 0])
    let numeric = try table.columns(label: "width", features: ["length"])
    #expect(numeric.x.scalars == [1.5, 3, 0.5] && numeric.y.scalars == [2, -4.25, 100])
    #expect(numeric.classNames == nil)
    // A quote inside a quoted field is doubled.
    #expect(try CSVTable(text: "a\n\"say \"\"hi\"\"\"").rows == [["say \"hi\""]])
  }

  @Test func refusalsNameTheLineOrColumn() throws {
    func message(_ body: () throws -> some Any) -> String {
      do {
        _ = try body()
        return ""
      } catch { return "\(error)" }
    }
    #expect(message { try CSVTable(text: "a,b\n1,2\n3") }.contains("line 3 has 1 fields"))
    #expect(message { try CSVTable(text: "a,b\n\"1,2") }.contains("unterminated quote"))
    #expect(message { try CSVTable(text: "\n \n") }.contains("no header"))
    let table = try CSVTable(text: "length,width,kind\n1,x,a")
    let column = message { try table.columns(label: "knd") }
    #expect(column.contains("'knd'") && column.contains("kind"))
    let value = message { try table.columns(label: "kind") }
    #expect(value.contains("width") && value.contains("'x' on row 1"))
    let missing = FileManager.default.temporaryDirectory.appendingPathComponent("none.csv")
    #expect(message { try CSVTable(contentsOf: missing) }.contains("none.csv"))
  }
}
