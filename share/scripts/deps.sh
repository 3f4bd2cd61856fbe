#!/bin/sh
# Installs what building and testing helua needs on Debian 12 (when root), or says how.
# Used by the Makefile before every build; fast when everything is there.
set -eu
pkgs="llvm-19-dev libzstd-dev liblua5.4-dev lua5.4 libncurses-dev libcmocka-dev meson ninja-build pkg-config gcc g++ make tmux python3"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "helua: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends $missing
else
  echo "helua: missing packages:$missing" >&2
  echo "run:  sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
