#!/usr/bin/env bash
# Installs what Strata needs from Debian's packages (only what is missing), then runs the main job or
# every test.
#
#   ./setup.sh run [strata options]   train the tutorial model on Fashion-MNIST (release build)
#   ./setup.sh test                   every test: this package, Examples/CustomLayers, bench's quick mode
#   ./setup.sh bench [bench options]  kernel and model throughput (release build)
set -euo pipefail
cd "$(dirname "$0")"

packages=(libopenblas-dev libdnnl-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev dataset-fashion-mnist)
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

command="${1:-run}"
[ $# -gt 0 ] && shift
case "$command" in
  run)
    swift run -c release strata "$@"
    ;;
  test)
    swift build --build-tests
    swift test
    swift test --package-path Examples/CustomLayers
    # The benchmark's quick mode: every kernel row is checked against the reference backend.
    swift run -c release bench --quick
    ;;
  bench)
    swift run -c release bench "$@"
    ;;
  *)
    echo "usage: ./setup.sh run [strata options] | ./setup.sh test | ./setup.sh bench [bench options]" >&2
    exit 2
    ;;
esac
