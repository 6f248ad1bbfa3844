#!/usr/bin/env bash
# Runs inside `dbus-run-session` (started by tests/integration/first_run.rs) with a real
# gnome-keyring as the Secret Service: `kastell setup` to a local folder and the loopback NAS.
# Expects KASTELL, BORGMATIC, CFG, SRC, LOCAL, NAS_URL, SSH_KEY, KNOWN, EXPORT, PASSPHRASE.
set -uo pipefail
fail() { echo "FAIL: $*"; exit 1; }
mode() { stat -c %a "$1"; }
eval "$(printf '%s' test-login | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
printf '%s\n' "$PASSPHRASE" > "$EXPORT.pp"
lookup() { secret-tool lookup service org.kde.kastell username "borgmatic:$1"; }

# A destination that cannot be written: said, and nothing is left behind.
"$KASTELL" setup --config "$CFG" --source "$SRC" --repository usb=/proc/kastell-cannot/repo \
  --export-keys "$EXPORT" --passphrase-fd 3 3<"$EXPORT.pp" > "$EXPORT.bad.txt" 2>&1 \
  && fail "setup to an unwritable place succeeded"
grep -q "creating “usb”" "$EXPORT.bad.txt" || fail "no clear message: $(cat "$EXPORT.bad.txt")"
[ -e "$CFG" ] && fail "a half-made config was left behind"
lookup "$CFG" >/dev/null && fail "a wallet entry was left behind"
echo "ok: an unwritable destination is said and leaves nothing half-made"

"$KASTELL" setup --config "$CFG" --source "$SRC" --repository "usb=$LOCAL" --repository "nas=$NAS_URL" \
  --ssh-key "$SSH_KEY" --known-hosts "$KNOWN" --export-keys "$EXPORT" \
  --passphrase-fd 3 3<"$EXPORT.pp" || fail "setup"
echo "ok: setup created both repositories"
[ "$(mode "$CFG")" = 600 ] || fail "the config has mode $(mode "$CFG")"
grep -qF "$PASSPHRASE" "$CFG" && fail "the plaintext passphrase is in the config"
grep -q '^encryption_passcommand: ".*kastell.* passphrase get --config ' "$CFG" || fail "no passcommand: $(cat "$CFG")"
grep -q '^# What to back up' "$CFG" || fail "not the guide's layout"
"$BORGMATIC" config validate --config "$CFG" >/dev/null || fail "borgmatic config validate"
[ "$(lookup "$(realpath "$CFG")")" = "$PASSPHRASE" ] || fail "the wallet does not hold the passphrase"
[ "$(mode "$EXPORT")" = 700 ] || fail "the key folder has mode $(mode "$EXPORT")"
for label in usb nas; do
  [ "$(mode "$EXPORT/$label.key")" = 600 ] || fail "$label.key has mode $(mode "$EXPORT/$label.key")"
  head -c 9 "$EXPORT/$label.key" | grep -q BORG_KEY || fail "$label.key is not a key"
done
echo "ok: config 0600 in the guide's layout with the passcommand, validated; keys 0600 in a 0700 folder"

"$BORGMATIC" --config "$CFG" create || fail "headless borgmatic create with the passcommand"
echo "ok: headless borgmatic create works with the wallet open"

before=$(sha256sum "$CFG")
"$KASTELL" setup --config "$CFG" --source "$SRC" --repository "usb=$LOCAL" --export-keys "$EXPORT" \
  --passphrase-fd 3 3<"$EXPORT.pp" > "$EXPORT.again.txt" 2>&1 && fail "setup over an existing config"
grep -q "already exists" "$EXPORT.again.txt" || fail "no clear message: $(cat "$EXPORT.again.txt")"
[ "$(sha256sum "$CFG")" = "$before" ] || fail "the existing config changed"
echo "ok: an existing config is never overwritten"

# A new machine going on into the old repository: only the exported key and the passphrase.
mv "$HOME/.config/borg/keys" "$HOME/.config/borg/keys.old-machine"
ADOPTED="$(dirname "$CFG")/adopted.yaml"
"$KASTELL" adopt --config "$ADOPTED" --repository "usb=$LOCAL" --key-file "$EXPORT/usb.key" \
  --source "$SRC" --passphrase-fd 3 3<"$EXPORT.pp" || fail "adopt"
grep -qF "$PASSPHRASE" "$ADOPTED" && fail "the adopted config holds the plaintext passphrase"
"$BORGMATIC" --config "$ADOPTED" create || fail "borgmatic create into the adopted repository"
echo "ok: a config written for an existing repository backs up into it with the imported key"
"$KASTELL" adopt --config "$ADOPTED.2" --repository "usb=$LOCAL-nothing" --passphrase-fd 3 3<"$EXPORT.pp" \
  > "$EXPORT.adopt.txt" 2>&1 && fail "adopt of a place without a repository"
grep -q "holds no repository" "$EXPORT.adopt.txt" || fail "no clear message: $(cat "$EXPORT.adopt.txt")"
[ -e "$ADOPTED.2" ] && fail "a config was left behind"
[ -e "$LOCAL-nothing" ] && fail "adopt created a repository"
echo "ok: adopt never creates a repository"

gdbus call --session --dest org.freedesktop.secrets --object-path /org/freedesktop/secrets \
  --method org.freedesktop.Secret.Service.Lock "['/org/freedesktop/secrets/collection/login']" >/dev/null \
  || fail "could not lock the wallet"
OTHER="$(dirname "$CFG")/other.yaml"
timeout 60 "$KASTELL" setup --config "$OTHER" --source "$SRC" --repository "usb2=$LOCAL-2" --export-keys "$EXPORT-2" \
  --passphrase-fd 3 3<"$EXPORT.pp" > "$EXPORT.locked.txt" 2>&1 && fail "setup with a locked wallet"
grep -qi "wallet" "$EXPORT.locked.txt" || fail "no word of the wallet: $(cat "$EXPORT.locked.txt")"
[ -e "$OTHER" ] && fail "a config was left behind with the wallet locked"
[ -e "$LOCAL-2" ] && fail "a repository was made with the wallet locked"
echo "ok: a locked wallet is said and leaves nothing behind"
rm -f "$EXPORT.pp"
