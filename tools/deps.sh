#!/usr/bin/env bash
# Install the Debian packages a make target needs (list: tools/packages.txt).
# Only missing packages are installed; apt-get update runs once, first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
want=()
for target in build "$@"; do
    while read -r line; do
        want+=($line)
    done < <(sed -n "s/^${target}:[[:space:]]*//p" "$here/packages.txt")
done
missing=()
for pkg in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages and not root; run: apt-get install ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
