#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine:
# Debian tools the integration tests drive (kcat, etcdctl, journal tools,
# chromium for the web console's browser test) and
# the Go modules of every module in the workspace. Safe to run repeatedly:
# it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
command -v systemd-journal-remote >/dev/null 2>&1 || [ -x /lib/systemd/systemd-journal-remote ] || need+=(systemd-journal-remote)
command -v journalctl >/dev/null 2>&1 || need+=(systemd)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "install-deps: missing ${need[*]}; install them (Debian: apt-get install ${need[*]}) or the tests that drive them will fail" >&2
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  echo "install-deps: Go 1.26 is required (https://go.dev/dl/); not found on PATH" >&2
  exit 1
fi
for m in pkg logagent logtransfer; do
  (cd "$m" && go mod download)
done

# The real kube-apiserver of the Kubernetes tests (devkit/k8sdeploy,
# logagent/internal/kubetest): built once per machine into the user's cache,
# reused afterwards. LOGCOLLECT_SKIP_KUBE_APISERVER=1 skips it (those tests
# then build it themselves, or skip saying why).
if [ -z "${LOGCOLLECT_SKIP_KUBE_APISERVER:-}" ] && [ -z "${LOGCOLLECT_KUBE_APISERVER:-}" ]; then
  scripts/build-kube-apiserver.sh >/dev/null
fi
