#!/usr/bin/env bash
# Runs inside `dbus-run-session` (started by tests/wallet.rs) with a real gnome-keyring as the
# Secret Service. Expects KASTELL, BORGMATIC, CFG and PASSPHRASE in the environment.
set -uo pipefail
fail() { echo "FAIL: $*"; exit 1; }
eval "$(printf '%s' test-login | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
cp "$CFG" "$CFG.orig"
comments() { grep -E '^\s*#' "$1"; }
mode() { stat -c %a "$1"; }
# A config others may read, as many are: the copy of it kept as .bak holds the passphrase.
chmod 0644 "$CFG"

"$KASTELL" passphrase to-wallet --config "$CFG" || fail "to-wallet"
[ "$(mode "$CFG.bak")" = 600 ] || fail ".bak holds the plaintext passphrase with mode $(mode "$CFG.bak")"
grep -qF "$PASSPHRASE" "$CFG.bak" || fail ".bak is not the previous version"
echo "ok: the previous version (with the passphrase) is kept 0600"
grep -qF "$PASSPHRASE" "$CFG" && fail "the plaintext passphrase is still in the config"
grep -q "^encryption_passcommand: .*kastell.* passphrase get --config " "$CFG" || fail "no passcommand: $(cat "$CFG")"
diff <(comments "$CFG.orig") <(comments "$CFG") || fail "comments changed"
echo "ok: passphrase moved into the wallet, comments unchanged"

stored=$(secret-tool lookup service org.kde.kastell username "borgmatic:$(realpath "$CFG")")
[ "$stored" = "$PASSPHRASE" ] || fail "the wallet holds something else"
echo "ok: secret-tool reads the passphrase Kastell stored"

"$BORGMATIC" --config "$CFG" create || fail "headless borgmatic create with the passcommand"
echo "ok: headless borgmatic create works with the passcommand"

"$KASTELL" passphrase from-wallet --config "$CFG" || fail "from-wallet"
grep -qF "encryption_passphrase: $PASSPHRASE" "$CFG" || grep -qF "encryption_passphrase: '$PASSPHRASE'" "$CFG" \
  || grep -qF "encryption_passphrase: \"$PASSPHRASE\"" "$CFG" || fail "from-wallet did not restore the passphrase: $(grep encryption_ "$CFG")"
secret-tool lookup service org.kde.kastell username "borgmatic:$(realpath "$CFG")" >/dev/null && fail "the wallet entry survived from-wallet"
[ "$(mode "$CFG")" = 600 ] || fail "from-wallet wrote the plaintext passphrase with mode $(mode "$CFG")"
[ "$(mode "$CFG.bak")" = 600 ] || fail ".bak has mode $(mode "$CFG.bak")"
echo "ok: from-wallet restores the plaintext passphrase (0600) and forgets the entry"

"$KASTELL" passphrase to-wallet --config "$CFG" || fail "to-wallet again"
gdbus call --session --dest org.freedesktop.secrets --object-path /org/freedesktop/secrets \
  --method org.freedesktop.Secret.Service.Lock "['/org/freedesktop/secrets/collection/login']" >/dev/null \
  || fail "could not lock the collection"
out=$(timeout 60 "$KASTELL" passphrase get --config "$CFG" 2>&1) && fail "get succeeded on a locked wallet"
case "$out" in
  *"wallet is locked"*) ;;
  *) fail "unclear message for a locked wallet: $out" ;;
esac
case "$out" in *"$PASSPHRASE"*) fail "passphrase printed" ;; esac
echo "ok: a locked wallet gives a clear message: ${out%%(*}"

out=$(timeout 120 "$KASTELL" archives --config "$CFG" --repository local 2>&1) && fail "listing succeeded on a locked wallet"
case "$out" in
  *"kept in the wallet"*"wallet is locked"*) ;;
  *) fail "the archive listing does not say the wallet is locked: $out" ;;
esac
case "$out" in *wrong*) fail "a locked wallet reported as a wrong passphrase: $out" ;; esac
echo "ok: listing archives with a locked wallet says so, not 'wrong passphrase'"

listed=$(printf '%s\n' "$PASSPHRASE" | timeout 120 "$KASTELL" archives --config "$CFG" --repository local --ask-passphrase --json) \
  || fail "listing with a passphrase typed for this run"
case "$listed" in *'"name"'*) ;; *) fail "no archives listed: $listed" ;; esac
ls "${XDG_RUNTIME_DIR}"/kastell/relay/relay-*.sock >/dev/null 2>&1 && fail "the one-run relay socket was left behind"
[ "$(mode "${XDG_RUNTIME_DIR}/kastell")" = 700 ] || fail "the runtime folder is $(mode "${XDG_RUNTIME_DIR}/kastell")"
echo "ok: a passphrase typed once lists the archives while the wallet stays locked"
