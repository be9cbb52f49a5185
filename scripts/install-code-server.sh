#!/usr/bin/env bash
# Install everything the integration and end-to-end tests need, offline-safe (only the npm
# registry and Debian's apt repositories are reached):
#   - Debian packages: chromium (driven by playwright-core), ripgrep, libkrb5-dev, python3,
#     make, g++, pkg-config (native addon builds), python3-onnx/python3-numpy (test oracles),
#     libonnx-testdata (ONNX's backend test models: the quantizer sweep, test/sweep),
#     imagemagick, fonts-dejavu-core, espeak-ng, sox (text pages and speech for test/real);
#   - code-server (a real VS Code served to a browser), pinned, cached OUTSIDE the clone.
#
# Usage:  scripts/install-code-server.sh [DEST]
#   DEST    default $CODE_SERVER_DIR, else ${XDG_CACHE_HOME:-~/.cache}/vscode-e2e/code-server-$CS_VERSION
#   env     CS_VERSION (default 4.100.3: the newest code-server whose engines.node is 20),
#           SKIP_APT=1 (don't touch apt), JOBS (parallel make, default nproc)
# Prints the code-server binary path on stdout (all logging goes to stderr).
#
# Idempotent: a finished install leaves DEST/.install-ok holding the version; a second run only
# checks dpkg and returns. A half-finished install (DEST.tmp) is wiped and redone.
#
# Why each environment tweak (all were needed on a closed network):
#   npm_config_unsafe_perm  code-server's postinstall refuses to run as root without it
#   npm_config_nodedir      node-gyp uses the running node's headers instead of downloading them
#   npm_config_yes          node-pty's postinstall runs `npx node-gyp`; a ~/.npmrc yes=false cancels it
#   TMPDIR + rg tarball     @vscode/ripgrep's postinstall looks in $TMPDIR/vscode-ripgrep-cache-<ver>/
#                           before GitHub: we seed it with a tarball of Debian's /usr/bin/rg
#   prebuilt downloads      argon2, kerberos, ... fail fast (no GitHub) and compile from source
set -euo pipefail

CS_VERSION="${CS_VERSION:-4.100.3}"
DEST="${1:-${CODE_SERVER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vscode-e2e/code-server-$CS_VERSION}}"
STAMP="$DEST/.install-ok"
CS_BIN="$DEST/node_modules/.bin/code-server"
log() { printf '[install-code-server %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- 1. system packages ---------------------------------------------------------------------
APT_PACKAGES=(chromium ripgrep libkrb5-dev python3 make g++ pkg-config python3-onnx python3-numpy libonnx-testdata imagemagick fonts-dejavu-core espeak-ng sox)
if [ "${SKIP_APT:-0}" != 1 ]; then
  missing=()
  if command -v dpkg-query >/dev/null; then
    for p in "${APT_PACKAGES[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      log "apt-get install ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      die "missing Debian packages: ${missing[*]} (run as root: apt-get update && apt-get install ${missing[*]})"
    fi
  fi
fi
for tool in rg python3 make g++; do
  command -v "$tool" >/dev/null || die "'$tool' not found on PATH (install ripgrep, python3, make, g++)"
done
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || die "no chromium at ${CHROMIUM:-/usr/bin/chromium} (apt-get install chromium, or set CHROMIUM)"

# --- 2. already installed? --------------------------------------------------------------------
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$CS_VERSION" ] && [ -x "$CS_BIN" ]; then
  log "code-server $CS_VERSION already installed in $DEST"
  echo "$CS_BIN"
  exit 0
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
want_major="$(npm view "code-server@$CS_VERSION" engines.node 2>/dev/null | tr -dc '0-9' || true)"
if [ -n "$want_major" ] && [ "$want_major" != "$node_major" ]; then
  die "code-server $CS_VERSION needs node $want_major, this is node $node_major"
fi

# --- 3. environment for the native builds -----------------------------------------------------
node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
[ -f "$node_prefix/include/node/node.h" ] \
  || die "no node headers in $node_prefix/include/node (Debian: apt-get install libnode-dev); node-gyp would try to download them"
export npm_config_nodedir="$node_prefix"
export npm_config_unsafe_perm=true
export npm_config_yes=true
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export JOBS="${JOBS:-$(nproc)}"

WORK="$DEST.tmp"
rm -rf "$DEST" "$WORK"
mkdir -p "$WORK/tmp"
export TMPDIR="$WORK/tmp"     # os.tmpdir(): where @vscode/ripgrep looks for a cached download
cd "$WORK"

# --- 4. seed @vscode/ripgrep's download cache with the system rg ------------------------------
log "npm pack code-server@$CS_VERSION"
tgz="$(npm pack --silent "code-server@$CS_VERSION" 2>/dev/null | tail -1)"
[ -f "$tgz" ] || die "npm pack code-server@$CS_VERSION failed"
rg_pkgver="$(tar -xzOf "$tgz" package/lib/vscode/npm-shrinkwrap.json | node -e '
  let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
    const p = JSON.parse(s).packages["node_modules/@vscode/ripgrep"]; console.log(p ? p.version : ""); });')"
if [ -n "$rg_pkgver" ]; then
  rgtgz="$(npm pack --silent "@vscode/ripgrep@$rg_pkgver" 2>/dev/null | tail -1)"
  rg_tag="$(tar -xzOf "$rgtgz" package/lib/postinstall.js | sed -n "s/^const VERSION = '\(.*\)';.*/\1/p")"
  rm -f "$rgtgz"
  case "$(uname -m)" in
    x86_64) rg_target=x86_64-unknown-linux-musl ;;
    aarch64) rg_target=aarch64-unknown-linux-musl ;;
    *) die "unsupported architecture $(uname -m)" ;;
  esac
  mkdir -p "$TMPDIR/vscode-ripgrep-cache-$rg_pkgver" "$WORK/rgbin"
  cp "$(command -v rg)" "$WORK/rgbin/rg"
  tar -czf "$TMPDIR/vscode-ripgrep-cache-$rg_pkgver/ripgrep-$rg_tag-$rg_target.tar.gz" -C "$WORK/rgbin" rg
  log "seeded @vscode/ripgrep@$rg_pkgver download cache ($rg_tag) with $(command -v rg)"
fi

# --- 5. npm install (code-server's postinstall installs lib/vscode and compiles addons) --------
echo '{ "name": "code-server-install", "private": true, "version": "0.0.0" }' >package.json
log "npm install code-server $CS_VERSION (compiles ~13 native addons: ~2 min on 2 cores)"
npm install --no-package-lock --no-save --foreground-scripts "./$tgz" >install.log 2>&1 || {
  tail -40 install.log >&2; die "npm install failed; full log: $WORK/install.log"; }
rm -f "$tgz"

# --- 6. check, move into place, stamp ---------------------------------------------------------
vscode_dir="$WORK/node_modules/code-server/lib/vscode"
rgbin="$(ls "$vscode_dir/node_modules/@vscode/ripgrep/bin/rg" \
            "$vscode_dir"/node_modules/@vscode/ripgrep-universal/bin/linux-*/rg 2>/dev/null | head -1 || true)"
[ -n "$rgbin" ] && "$rgbin" --version >/dev/null || die "no working ripgrep inside $vscode_dir"
# --version with XDG dirs inside WORK: code-server would otherwise write ~/.config/code-server/config.yaml
version="$(XDG_CONFIG_HOME="$TMPDIR/xdg" XDG_DATA_HOME="$TMPDIR/xdg" "$WORK/node_modules/.bin/code-server" --version 2>/dev/null | grep -E '^[0-9]' | head -1)"
rm -rf "$TMPDIR" "$WORK/rgbin"
mv "$WORK" "$DEST"
echo "$CS_VERSION" >"$STAMP"
log "installed code-server $version in $DEST ($(du -sh "$DEST" | cut -f1))"
echo "$CS_BIN"
