import StrataCore

/// The ``StrataError`` `body` throws, for a test to compare with the one it expects; `nil` when it
/// throws nothing or an error of another type (which then fails the comparison):
/// `#expect(refusal { try Dense(-3) } == .invalidArgument(owner: "Dense", …))`.
public func refusal<Result>(_ body: () throws -> Result) -> StrataError? {
  do {
    _ = try body()
  } catch let error as StrataError {
    return error
  } catch {}
  return nil
}
