#!/usr/bin/env bash
# Plain etcdctl equivalents of the agent's collect-config operations, for
# operators who prefer them.
#   scripts/collect-config.sh put 10.0.0.5 config.json   # write (validate first: logagent validate config.json)
#   scripts/collect-config.sh get 10.0.0.5
#   scripts/collect-config.sh watch 10.0.0.5
#   scripts/collect-config.sh status 10.0.0.5            # the agent's status key
# ETCDCTL_ENDPOINTS (default http://127.0.0.1:2379) picks the cluster.
set -euo pipefail
export ETCDCTL_API=3
endpoints=${ETCDCTL_ENDPOINTS:-http://127.0.0.1:2379}
usage() { sed -n '2,9p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
op=$1 ip=$2
key="/logagent/$ip/collect_config"
case "$op" in
  put)
    [ $# -eq 3 ] || usage
    if command -v logagent >/dev/null; then logagent validate "$3"; fi
    etcdctl --endpoints "$endpoints" put "$key" "$(cat "$3")" ;;
  get) etcdctl --endpoints "$endpoints" get --print-value-only "$key" ;;
  watch) etcdctl --endpoints "$endpoints" watch "$key" ;;
  status) etcdctl --endpoints "$endpoints" get --print-value-only "/logagent/$ip/status" ;;
  *) usage ;;
esac
