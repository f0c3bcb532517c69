#!/usr/bin/env bash
# Prints the folder of the newest Node.js of one major line (bin/node, include/node), installing it
# on first use from the npm registry, where the package node-linux-<arch> carries the official
# binary and headers. CI runs the suite on the lines package.json claims with it (.ci/run), and
# `npm install` on an unsupported Node fetches the newest line with it (scripts/build.mjs), which
# the command line and `npm test` then run under (src/cli/node-version.ts finds it in the same
# cache: keep the two in step).
#
#   home=$(scripts/node-major.sh 26)
#   PATH="$home/bin:$PATH" npm ci
#   PATH="$home/bin:$PATH" npm test
#
# The cache: $ANNUNCIATOR_NODE_CACHE, else $XDG_CACHE_HOME/annunciator/node, else ~/.cache/annunciator/node.
set -euo pipefail
major=${1:?usage: scripts/node-major.sh MAJOR (22, 24, 26)}
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "scripts/node-major.sh: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
cache=${ANNUNCIATOR_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/annunciator/node}
dir="$cache/$major-$arch"
home="$dir/node_modules/node-linux-$arch"
if [ ! -x "$home/bin/node" ] || [ ! -d "$home/include/node" ]; then
  mkdir -p "$dir"
  echo "installing Node.js $major (npm package node-linux-$arch@$major) into $dir" >&2
  (cd "$dir" && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-$arch@$major" >&2)
fi
version=$("$home/bin/node" --version)
if [ "${version%%.*}" != "v$major" ]; then
  echo "scripts/node-major.sh: $home/bin/node is $version, not Node.js $major" >&2
  exit 1
fi
echo "$home"
