#!/usr/bin/env bash
# Builds the e2e tier's servers into e2e/bin/ from the Go module proxy, pinned by the
# go.mod beside each wrapper. Skips a binary that already exists; pass names to choose
# (default: all). Each wrapper is its own module, built with -mod=mod (see their go.mod).
#
# etcd comes from Debian's etcd-server package when /usr/bin/etcd exists (CI installs it);
# otherwise set E2E_ETCD to an etcd binary.
set -euo pipefail
cd "$(dirname "$0")"
bin="$(cd .. && pwd)/bin"
mkdir -p "$bin"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(kube-apiserver source-controller kustomize-controller)
for name in "${names[@]}"; do
  if [ -x "$bin/$name" ]; then
    echo "e2e tools: $name present"
    continue
  fi
  case "$name" in
    kube-apiserver) pkg=. ;;
    source-controller) pkg=github.com/fluxcd/source-controller ;;
    kustomize-controller) pkg=github.com/fluxcd/kustomize-controller ;;
    *) echo "e2e tools: unknown tool $name" >&2; exit 2 ;;
  esac
  start=$(date +%s)
  (cd "$name" && GOFLAGS="${GOFLAGS:-} -mod=mod" go build -trimpath -ldflags="-s -w" -o "$bin/$name.tmp" "$pkg")
  mv "$bin/$name.tmp" "$bin/$name"
  echo "e2e tools: built $name in $(( $(date +%s) - start ))s"
done
