#!/usr/bin/env python3
"""Compiles every Swift code block of README.md and Docs/*.md, so the docs cannot rot.

Each block becomes the main.swift of its own executable target (top-level code and declarations both
work there), or, when it holds @Test functions, a file of a test target, in a package made in a
temporary directory that depends on this one and on Examples/CustomLayers by path. An HTML comment
right before a block, invisible on GitHub, adjusts it:

  <!-- snippet: not compiled (why) -->          skip the block (a manifest, a fragment)
  <!-- snippet: imports A B -->                  the modules it imports (default: Foundation Strata
                                                StrataData StrataSeedModels)
  <!-- snippet: prelude CODE -->                 Swift put before the block (names it uses)

`…` in a block stands for a body: `{ … }` compiles as `{ fatalError() }`.
Run: python3 .ci/check-docs.py [--scratch-path DIR]   (exits non-zero, naming the block, when one does
not compile). With --scratch-path the build goes there: `./setup.sh test` passes the directory the
downstream example was built in, so Strata is not compiled again.
"""
import os
import re
import subprocess
import sys
import tempfile

root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
default_imports = ["Foundation", "Strata", "StrataData", "StrataSeedModels"]
files = ["README.md"] + sorted(os.path.join("Docs", f) for f in os.listdir(os.path.join(root, "Docs")) if f.endswith(".md"))

snippets = []  # (label, imports, source, is_test)
for name in files:
    text = open(os.path.join(root, name), encoding="utf-8").read()
    for match in re.finditer(r"((?:<!-- snippet:[^\n]*-->\n)*)```swift\n(.*?)```", text, re.S):
        line = text[: match.start(2)].count("\n")
        directives = re.findall(r"<!-- snippet: (.*?) -->", match.group(1))
        if any(d.startswith("not compiled") for d in directives):
            continue
        imports = list(default_imports)
        prelude = []
        for directive in directives:
            if directive.startswith("imports "):
                imports = directive[len("imports "):].split()
            elif directive.startswith("prelude "):
                prelude.append(directive[len("prelude "):])
        body = match.group(2).replace("{ … }", "{ fatalError() }")
        label = f"{name}:{line}"
        is_test = "@Test" in body
        if is_test and "Testing" not in imports:
            imports.append("Testing")
        source = "".join(f"import {m}\n" for m in imports) + f"// {label}\n" + "\n".join(prelude) + "\n" + body
        snippets.append((label, source, is_test))

package = tempfile.mkdtemp(prefix="strata-doc-snippets-")
targets = []
for index, (label, source, is_test) in enumerate(snippets):
    folder = os.path.join(package, "Tests" if is_test else "Sources", f"Snippet{index}")
    os.makedirs(folder)
    open(os.path.join(folder, "Snippet.swift" if is_test else "main.swift"), "w", encoding="utf-8").write(source)
    products = ['.product(name: "Strata", package: "Strata")', '.product(name: "StrataData", package: "Strata")',
                '.product(name: "StrataSeedModels", package: "Strata")', '.product(name: "StrataMPI", package: "Strata")', '.product(name: "StrataKeras", package: "Strata")',
                '.product(name: "StrataTesting", package: "Strata")',
                '.product(name: "CustomLayers", package: "CustomLayers")']
    kind = "testTarget" if is_test else "executableTarget"
    targets.append(f'    .{kind}(name: "Snippet{index}", dependencies: [{", ".join(products)}], path: "{os.path.dirname(os.path.relpath(folder, package))}/Snippet{index}"),')

manifest = f"""// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "StrataDocSnippets",
  platforms: [.macOS(.v15)],
  dependencies: [
    .package(name: "Strata", path: "{root}"),
    .package(name: "CustomLayers", path: "{os.path.join(root, 'Examples', 'CustomLayers')}"),
  ],
  targets: [
{chr(10).join(targets)}
  ]
)
"""
open(os.path.join(package, "Package.swift"), "w").write(manifest)
print(f"Compiling {len(snippets)} code blocks from {', '.join(files)} in {package}")
command = ["swift", "build", "--build-tests"]
if "--scratch-path" in sys.argv[1:]:
    command += ["--scratch-path", os.path.abspath(sys.argv[sys.argv.index("--scratch-path") + 1])]
result = subprocess.run(command, cwd=package, capture_output=True, text=True)
if result.returncode != 0:
    errors = [l for l in (result.stdout + result.stderr).splitlines() if "error:" in l]
    for error in errors[:40]:
        match = re.search(r"Snippet(\d+)/", error)
        where = snippets[int(match.group(1))][0] if match else ""
        print(f"{where}: {error}")
    sys.exit(1)
print(f"All {len(snippets)} code blocks compile.")
