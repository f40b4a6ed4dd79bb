#!/bin/bash
# Regenerates every reference fixture the tests read, each generator with the Keras backend it
# needs, in place. One entry point for the generators beside the fixtures they write.
#
#   python3 -m venv /tmp/kerasenv
#   /tmp/kerasenv/bin/pip install "tensorflow-cpu==2.21.0" "keras==3.15.1" jax h5py
#   Tests/regenerate_fixtures.sh /tmp/kerasenv/bin/python          # every generator
#   Tests/regenerate_fixtures.sh /tmp/kerasenv/bin/python lookup   # those whose name contains it
#   Tests/regenerate_fixtures.sh --list                            # what would run
#
# The numeric fixtures come out the same for the same versions (fixed seeds); the .keras archives
# differ in their timestamps only. ../shared/keras-seq (gen_sequences.py) is not the project's and
# is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# backend | folder (the generator runs there) | command after the interpreter
generators=(
  "tensorflow|Tests|generate_fixtures.py"
  "jax|Tests|generate_augmentation_fixture.py"
  "jax|Tests/StrataLayersTests/Fixtures|generate_activation_layers.py"
  "jax|Tests/StrataLayersTests/Fixtures|generate_application_layers.py"
  "jax|Tests/StrataLayersTests/Fixtures|generate_attention_layers.py"
  "jax|Tests/StrataLayersTests/Fixtures|generate_sequence_layers.py"
  "tensorflow|Tests/StrataDataTests/Fixtures|generate_text_preprocessing.py"
  "jax|Tests/StrataTests/Fixtures/keras|gen.py ."
  "jax|Tests/StrataTests/Fixtures/keras|gen_states.py ."
  "tensorflow|Tests/StrataTests/Fixtures/keras|gen_text.py ."
  "tensorflow|Tests/StrataTests/Fixtures/keras|gen_lookup.py ."
  "jax|Tests/StrataTests/Fixtures/keras|make_legacy_weights.py"
  "jax|Examples/CustomLayers/Tests/CustomLayersTests/Fixtures|generate_keras_file.py"
  "jax|Examples/CustomLayers/Tests/CustomLayersTests/Fixtures|generate_linear_fixture.py"
)

if [ "${1:-}" = "--list" ]; then
  for entry in "${generators[@]}"; do
    IFS='|' read -r backend folder command <<< "$entry"
    echo "KERAS_BACKEND=$backend (cd $folder && PYTHON $command)"
  done
  exit 0
fi
python=${1:?usage: Tests/regenerate_fixtures.sh PYTHON [NAME] | --list}
filter=${2:-}
for entry in "${generators[@]}"; do
  IFS='|' read -r backend folder command <<< "$entry"
  [[ -n "$filter" && "$command" != *"$filter"* ]] && continue
  echo "== KERAS_BACKEND=$backend $folder/$command"
  (cd "$root/$folder" && KERAS_BACKEND=$backend "$python" $command)
done
