#!/usr/bin/env bash
# Train, export and time every shipped instrument on a lent GPU machine, in at most 8 minutes:
#   bash bench/gpu_train.sh OUT                  # on the GPU machine; OUT is $OUT there
#   bash bench/gpu_train.sh OUT --cpu-dry-run    # the same stages on the CPU in seconds (CI runs it)
# Needs the carried payload (.whl/ and .gpu_data/, built by `python -m diffband.export.gpu_payload build`
# and named in the run's carry).  Options: python -m diffband.export.gpu --help.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
if [ -n "${PYTHON:-}" ]; then py=$PYTHON
elif [ -x .venv/bin/python ]; then py=.venv/bin/python
else py=python3
fi
exec "$py" -m diffband.export.gpu "$@"
