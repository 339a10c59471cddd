#!/usr/bin/env bash
# Install the Debian packages sarl_hf needs when they are missing and we may:
# as root, or through passwordless sudo. Otherwise say what to run, and go on.
set -u
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "sarl_hf: please install ${missing[*]} with your package manager" >&2; exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else
  echo "sarl_hf: missing ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2; exit 0
fi
echo "sarl_hf: installing ${missing[*]} with apt-get"
$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
  || echo "sarl_hf: apt-get could not install ${missing[*]}" >&2
