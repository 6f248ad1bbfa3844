#!/usr/bin/env bash
# Installs what is missing and runs every test headless: formatting, lints, the Qt-free core on
# its own, then everything against real borg, borgmatic, sshd, Xvfb and AT-SPI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# shellcheck source=scripts/env.sh
. scripts/env.sh
echo "== borg $(borg --version | cut -d' ' -f2), borgmatic $(borgmatic --version), $(cargo --version)"
cargo fmt --all --check
cargo clippy --all-targets -- -D warnings
cargo clippy --no-default-features --lib -- -D warnings
# The core must build and pass its tests with no Qt at all.
cargo test --no-default-features --lib
cargo test
