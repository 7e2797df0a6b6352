#!/usr/bin/env bash
# Builds a real kube-apiserver for the Kubernetes integration tests
# (logagent/internal/kubernetes/apitest) into a per-machine cache and prints
# its path. Idempotent: a cached binary is reused, so CI builds it once per
# machine (~4 min on 2 cores, 146 MB, from the Go module proxy).
#
# How: a throwaway module outside the repo requires k8s.io/kubernetes and
# replaces each k8s.io/* staging module that k8s.io/kubernetes' go.mod names
# (./staging/src/k8s.io/X) with its published v0.<minor>.<patch> release.
#
#   KUBE_VERSION   (default v1.34.4)
#   KUBE_APISERVER_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/logcollect)
set -euo pipefail

ver=${KUBE_VERSION:-v1.34.4}
cache=${KUBE_APISERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/logcollect}
bin="$cache/kube-apiserver-$ver"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "build-kube-apiserver: go not on PATH" >&2; exit 1; }

mkdir -p "$cache"
# One build at a time per machine: test packages run in parallel, and each
# may ask for the binary; the others wait for it here, then reuse it.
if command -v flock >/dev/null 2>&1 && [ -z "${KUBE_APISERVER_LOCKED:-}" ]; then
  exec env KUBE_APISERVER_LOCKED=1 flock "$cache/.build-kube-apiserver.lock" "$0" "$@"
fi
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

staging_ver="v0.${ver#v1.}" # v1.34.4 -> v0.34.4
work=$(mktemp -d "$cache/build-kube-apiserver.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
export GOWORK=off GOFLAGS=-mod=mod

gomod=$(go mod download -json "k8s.io/kubernetes@$ver" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[ -f "$gomod" ] || { echo "build-kube-apiserver: cannot download k8s.io/kubernetes@$ver" >&2; exit 1; }

{
  echo "module logcollect.local/kube-apiserver-build"
  echo
  echo "go 1.24.0"
  echo
  echo "require k8s.io/kubernetes $ver"
  echo
  echo "replace ("
  sed -n 's|^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*$|\t\1 => \1 '"$staging_ver"'|p' "$gomod"
  echo ")"
} >go.mod
echo "build-kube-apiserver: building kube-apiserver $ver into $bin (several minutes, once per machine)" >&2
go build -trimpath -ldflags '-s -w' -o "$bin.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "$bin.tmp" "$bin"
echo "$bin"
