#!/usr/bin/env bash
# Installs what Strata needs from Debian's packages (only what is missing), then runs the main job or
# every test.
#
#   ./setup.sh run [strata options]   train the tutorial model on Fashion-MNIST (release build)
#   ./setup.sh test                   every test: this package (with coverage per target), Examples/CustomLayers,
#                                     bench's quick mode, the release binary's checks (.ci/release-checks.sh)
#   ./setup.sh coverage [filters]     this package's tests with line coverage per target
#   ./setup.sh bench [bench options]  kernel and model throughput (release build)
set -euo pipefail
cd "$(dirname "$0")"

packages=(libopenblas-dev libdnnl-dev libhdf5-dev openmpi-bin libopenmpi-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev dataset-fashion-mnist wamerican wngerman wfrench wspanish witalian)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
  [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
fi
command -v swift >/dev/null 2>&1 || { echo "Swift 6 is needed (https://swift.org/install)" >&2; exit 1; }

# Coverage: Swift targets through SwiftPM, C targets through clang's own instrumentation.
coverage_build() {
  swift build --build-tests --enable-code-coverage -Xcc -fprofile-instr-generate -Xcc -fcoverage-mapping
}
# Merges the profiles of the test run and of the strata processes the tests start, then prints line
# coverage per target.
coverage_summary() {
  local bin profiles llvm
  bin="$(swift build --show-bin-path)"
  llvm="$(dirname "$(command -v swift)")"
  profiles=("$bin"/codecov/*.profraw)
  "$llvm/llvm-profdata" merge -sparse "${profiles[@]}" -o "$bin/codecov/merged.profdata"
  "$llvm/llvm-cov" export -instr-profile "$bin/codecov/merged.profdata" \
    "$bin/StrataPackageTests.xctest" -object "$bin/strata" | python3 .ci/coverage-report.py "$PWD"
}

# Runs a step and says how long it took, so a slow CI run shows which step grew.
timed() {
  local start=$SECONDS
  "$@"
  echo "setup.sh: $1 ${2:-} took $((SECONDS - start)) s" >&2
}

command="${1:-run}"
[ $# -gt 0 ] && shift
case "$command" in
  run)
    swift run -c release strata "$@"
    ;;
  test)
    # The tree is formatted as .swift-format says (swift-format ships with the toolchain).
    timed swift format lint --strict --recursive Package.swift Sources Plugins Tests Benchmarks \
      Examples/CustomLayers/Package.swift Examples/CustomLayers/Sources Examples/CustomLayers/Tests
    # Every test once, with line coverage measured (the C targets included), then the summary per target.
    timed coverage_build
    timed swift test --skip-build --enable-code-coverage
    timed coverage_summary
    # The downstream package, the docs' code blocks and DocC each build Strata as a dependency in
    # debug without coverage: one scratch directory serves all three, so it is compiled once.
    downstream="$PWD/.build/downstream"
    timed swift test --package-path Examples/CustomLayers --scratch-path "$downstream"
    # Every Swift code block of README.md and Docs/ compiles (the docs cannot rot), and the DocC
    # catalogs build.
    timed python3 .ci/check-docs.py --scratch-path "$downstream"
    timed swift package --scratch-path "$downstream" generate-documentation --target StrataCore \
      --target Strata > /dev/null
    # The benchmark's quick mode: every kernel row is checked against the reference backend.
    timed swift run -c release bench --quick
    # The release binary on the paths users take, each checked by its output: optimized code can
    # crash where the debug tests pass.
    timed swift build -c release --product strata
    timed .ci/release-checks.sh "$(swift build -c release --show-bin-path)/strata"
    ;;
  bench)
    swift run -c release bench "$@"
    ;;
  coverage)
    coverage_build
    swift test --skip-build --enable-code-coverage "$@"
    coverage_summary
    ;;
  *)
    echo "usage: ./setup.sh run [strata options] | ./setup.sh test | ./setup.sh bench [bench options] | ./setup.sh coverage" >&2
    exit 2
    ;;
esac
