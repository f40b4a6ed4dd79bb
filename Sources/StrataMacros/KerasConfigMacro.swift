import SwiftCompilerPlugin
import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxMacros

/// `@KerasConfig`: a Keras config declared once. Each stored `var` holds its Keras default as its
/// initial value (an optional without one defaults to `nil`); `@Required` marks an argument without a
/// Keras default, whose initial value is only a placeholder. The macro writes the public memberwise
/// `init` (each default as the parameter's default; throwing what `validate()` throws when the struct
/// declares one), `kerasDefaults`, `requiredArguments` and the `KerasConfig` conformance.
public struct KerasConfigMacro: MemberMacro, ExtensionMacro {
  /// One argument: its name, type, default and whether Keras requires it.
  struct Argument {
    var name: String
    var type: TypeSyntax
    var initial: ExprSyntax?
    var required: Bool
    /// `@Flattened`: a config of its own whose arguments stand beside this one's, as Keras' flat
    /// configs have them.
    var flattened: Bool
  }

  /// The members: the memberwise `init`, `kerasDefaults` and, when an argument is `@Required`,
  /// `requiredArguments`.
  public static func expansion(
    of node: AttributeSyntax, providingMembersOf declaration: some DeclGroupSyntax,
    conformingTo protocols: [TypeSyntax], in context: some MacroExpansionContext
  ) throws -> [DeclSyntax] {
    guard let structDecl = declaration.as(StructDeclSyntax.self) else {
      throw MacroError.message("@KerasConfig applies to a struct")
    }
    let arguments = try collectArguments(of: structDecl)
    let access =
      structDecl.modifiers.contains { $0.name.tokenKind == .keyword(.public) } ? "public " : ""
    let parameters = arguments.map { argument -> String in
      let defaultValue =
        argument.required ? "" : " = \(argument.initial?.trimmedDescription ?? "nil")"
      return "\(argument.name): \(argument.type.trimmedDescription)\(defaultValue)"
    }
    let assignments = arguments.map { "self.\($0.name) = \($0.name)" }
    let placeholders = arguments.filter(\.required).map {
      "\($0.name): \($0.initial?.trimmedDescription ?? "nil")"
    }
    let typeName = structDecl.name.text
    var members: [DeclSyntax]
    if declaresValidate(structDecl) {
      // A config that checks itself: the public init throws what `validate()` throws; the defaults
      // are built without the check (a required argument's placeholder need not pass it).
      let unchecked = (["kerasUnchecked: Void"] + parameters).joined(separator: ", ")
      members = [
        """
        /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
        \(raw: access)init(\(raw: parameters.joined(separator: ", "))) throws {
          \(raw: assignments.joined(separator: "\n"))
          try validate()
        }
        """,
        """
        /// The arguments as given, unchecked.
        private init(\(raw: unchecked)) {
          \(raw: assignments.joined(separator: "\n"))
        }
        """,
        """
        /// The config with Keras' defaults; a required argument holds its placeholder.
        \(raw: access)static let kerasDefaults = \(raw: typeName)(\(raw: (["kerasUnchecked: ()"] + placeholders).joined(separator: ", ")))
        """,
      ]
    } else {
      members = [
        """
        /// The arguments given, Keras' defaults for the others.
        \(raw: access)init(\(raw: parameters.joined(separator: ", "))) {
          \(raw: assignments.joined(separator: "\n"))
        }
        """,
        """
        /// The config with Keras' defaults; a required argument holds its placeholder.
        \(raw: access)static let kerasDefaults = \(raw: typeName)(\(raw: placeholders.joined(separator: ", ")))
        """,
      ]
    }
    if arguments.contains(where: \.flattened) {
      members += coding(arguments, access: access)
    }
    let required = arguments.filter(\.required).map { "\"\(snakeCase($0.name))\"" }
    // A flattened part's required arguments are this config's too.
    let parts = arguments.filter(\.flattened).map {
      ".union(\($0.type.trimmedDescription).requiredArguments)"
    }
    if !required.isEmpty || !parts.isEmpty {
      members.append(
        """
        /// Keras' arguments without a default.
        \(raw: access)static let requiredArguments: Set<String> = Set<String>([\(raw: required.joined(separator: ", "))])\(raw: parts.joined())
        """)
    }
    return members
  }

  /// The `KerasConfig` conformance, unless the struct declares it.
  public static func expansion(
    of node: AttributeSyntax, attachedTo declaration: some DeclGroupSyntax,
    providingExtensionsOf type: some TypeSyntaxProtocol, conformingTo protocols: [TypeSyntax],
    in context: some MacroExpansionContext
  ) throws -> [ExtensionDeclSyntax] {
    guard !protocols.isEmpty else { return [] }
    return [try ExtensionDeclSyntax("extension \(type.trimmed): KerasConfig {}")]
  }

  /// `CodingKeys`, `init(from:)` and `encode(to:)` for a config with `@Flattened` arguments: those
  /// decode from, and encode into, the same keyed container as the others.
  static func coding(_ arguments: [Argument], access: String) -> [DeclSyntax] {
    let own = arguments.filter { !$0.flattened }
    // Only flattened parts: no container of its own (an enum of no cases takes no raw type).
    var decoding =
      own.isEmpty ? [] : ["let container = try decoder.container(keyedBy: CodingKeys.self)"]
    var encoding =
      own.isEmpty ? [] : ["var container = encoder.container(keyedBy: CodingKeys.self)"]
    for argument in arguments {
      let name = argument.name
      if argument.flattened {
        decoding.append("\(name) = try \(argument.type.trimmedDescription)(from: decoder)")
        encoding.append("try \(name).encode(to: encoder)")
      } else if let optional = argument.type.as(OptionalTypeSyntax.self) {
        let wrapped = optional.wrappedType.trimmedDescription
        decoding.append(
          "\(name) = try container.decodeIfPresent(\(wrapped).self, forKey: .\(name))")
        encoding.append("try container.encodeIfPresent(\(name), forKey: .\(name))")
      } else {
        let type = argument.type.trimmedDescription
        decoding.append("\(name) = try container.decode(\(type).self, forKey: .\(name))")
        encoding.append("try container.encode(\(name), forKey: .\(name))")
      }
    }
    let keys: DeclSyntax =
      own.isEmpty
      ? "enum CodingKeys: CodingKey {}"
      : "enum CodingKeys: String, CodingKey { case \(raw: own.map(\.name).joined(separator: ", ")) }"
    return [
      keys,
      """
      /// Decodes the arguments, the flattened ones from the same container.
      \(raw: access)init(from decoder: any Decoder) throws {
        \(raw: decoding.joined(separator: "\n"))
      }
      """,
      """
      /// Encodes the arguments, the flattened ones into the same container.
      \(raw: access)func encode(to encoder: any Encoder) throws {
        \(raw: encoding.joined(separator: "\n"))
      }
      """,
    ]
  }

  /// Whether the struct declares `validate()`, the check its public init then runs.
  static func declaresValidate(_ structDecl: StructDeclSyntax) -> Bool {
    structDecl.memberBlock.members.contains {
      guard let function = $0.decl.as(FunctionDeclSyntax.self) else { return false }
      return function.name.text == "validate"
        && function.signature.parameterClause.parameters.isEmpty
    }
  }

  /// The struct's stored `var`s, in order.
  static func collectArguments(of structDecl: StructDeclSyntax) throws -> [Argument] {
    var arguments: [Argument] = []
    for member in structDecl.memberBlock.members {
      guard let variable = member.decl.as(VariableDeclSyntax.self),
        variable.bindingSpecifier.tokenKind == .keyword(.var),
        !variable.modifiers.contains(where: {
          $0.name.tokenKind == .keyword(.static) || $0.name.tokenKind == .keyword(.class)
        })
      else { continue }
      let marks = variable.attributes.compactMap {
        $0.as(AttributeSyntax.self)?.attributeName.trimmedDescription
      }
      let required = marks.contains("Required"), flattened = marks.contains("Flattened")
      for binding in variable.bindings {
        if binding.accessorBlock != nil { continue }  // computed
        guard let name = binding.pattern.as(IdentifierPatternSyntax.self)?.identifier.text,
          let type = binding.typeAnnotation?.type
        else {
          throw MacroError.message(
            "@KerasConfig needs each stored property's type written out: \(binding.trimmedDescription)"
          )
        }
        let optional = type.is(OptionalTypeSyntax.self)
        if binding.initializer == nil && !optional {
          throw MacroError.message(
            "'\(name)' needs its Keras default as its initial value (or @Required and a placeholder)"
          )
        }
        arguments.append(
          Argument(
            name: name, type: type, initial: binding.initializer?.value, required: required,
            flattened: flattened))
      }
    }
    return arguments
  }

  /// `cropToAspectRatio` → `crop_to_aspect_ratio`, as the configs' snake_case key strategy spells it.
  static func snakeCase(_ name: String) -> String {
    var result = ""
    for character in name {
      if character.isUppercase {
        if !result.isEmpty { result += "_" }
        result += character.lowercased()
      } else {
        result.append(character)
      }
    }
    return result
  }
}

/// `@Required` (an argument Keras has no default for) and `@Flattened` (a nested config whose
/// arguments stand beside the others): they only mark a property; the config macro reads them.
public struct MarkerMacro: PeerMacro {
  /// Nothing: the mark is for `@KerasConfig`.
  public static func expansion(
    of node: AttributeSyntax, providingPeersOf declaration: some DeclSyntaxProtocol,
    in context: some MacroExpansionContext
  ) throws -> [DeclSyntax] { [] }
}

/// An error the macro reports at the attribute.
enum MacroError: Error, CustomStringConvertible {
  case message(String)
  var description: String {
    switch self {
    case .message(let text): return text
    }
  }
}

/// The compiler plugin that provides Strata's macros.
@main
struct StrataMacrosPlugin: CompilerPlugin {
  let providingMacros: [Macro.Type] = [KerasConfigMacro.self, MarkerMacro.self]
}
