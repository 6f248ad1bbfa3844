#!/usr/bin/env bash
# Installs what is missing, builds Kastell (release) and starts it. Arguments go to kastell.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=scripts/env.sh
. scripts/env.sh
cargo build --release
exec "${CARGO_TARGET_DIR:-target}/release/kastell" "$@"
