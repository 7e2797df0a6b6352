#!/usr/bin/env bash
# Plain etcdctl equivalents of the operator CLI (docs/logagent.md "Operator CLI").
#   scripts/collect-config.sh put 10.0.0.5 config.json   # logagent put -ip 10.0.0.5 config.json (validates first)
#   scripts/collect-config.sh get 10.0.0.5               # logagent get -ip 10.0.0.5
#   scripts/collect-config.sh watch 10.0.0.5
#   scripts/collect-config.sh status 10.0.0.5            # logagent get -status -ip 10.0.0.5
#   scripts/collect-config.sh agents                     # logagent agents -json (the raw status documents)
# ETCDCTL_ENDPOINTS (default http://127.0.0.1:2379) picks the cluster; default key names.
set -euo pipefail
export ETCDCTL_API=3
# etcdctl refuses ETCDCTL_ENDPOINTS together with --endpoints: use the variable only.
export ETCDCTL_ENDPOINTS=${ETCDCTL_ENDPOINTS:-http://127.0.0.1:2379}
usage() { sed -n '2,9p' "$0" >&2; exit 2; }
if [ "${1:-}" = agents ]; then
  etcdctl get --prefix /logagent/ | awk 'prev ~ /^\/logagent\/[^\/]+\/status$/ {print} {prev=$0}'
  exit
fi
[ $# -ge 2 ] || usage
op=$1 ip=$2
key="/logagent/$ip/collect_config"
case "$op" in
  put)
    [ $# -eq 3 ] || usage
    if command -v logagent >/dev/null; then logagent validate "$3"; else echo "logagent not on PATH: $3 not validated" >&2; fi
    etcdctl put "$key" "$(cat "$3")" ;;
  get) etcdctl get --print-value-only "$key" ;;
  watch) etcdctl watch "$key" ;;
  status) etcdctl get --print-value-only "/logagent/$ip/status" ;;
  *) usage ;;
esac
