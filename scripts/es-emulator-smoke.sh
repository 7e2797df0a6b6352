#!/usr/bin/env bash
# Shows, with curl, the Elasticsearch behaviour the pipeline depends on:
# a bulk where one item is rejected with mapper_parsing_exception while the
# others are indexed, searchable after _refresh, found by query_string.
# Works against the dev stack's emulator and against real Elasticsearch 7.17.
#   scripts/es-emulator-smoke.sh [ES_URL]        (default http://127.0.0.1:9200)
set -euo pipefail
ES=${1:-http://127.0.0.1:9200}
idx=smoke-$(date +%s)
j() { curl -fsS -H 'Content-Type: application/json' "$@"; echo; }
echo "# create $idx with status mapped as long"
j -XPUT "$ES/$idx" -d '{"mappings":{"properties":{"status":{"type":"long"}}}}'
echo "# bulk: the second document's status is not a number"
printf '%s\n' \
  "{\"index\":{\"_index\":\"$idx\",\"_id\":\"1\"}}" '{"message":"GET /a 200","status":200}' \
  "{\"index\":{\"_index\":\"$idx\",\"_id\":\"2\"}}" '{"message":"GET /b oops","status":"not-a-number"}' \
  "{\"index\":{\"_index\":\"$idx\",\"_id\":\"3\"}}" '{"message":"POST /c 500","status":500}' |
  curl -fsS -XPOST "$ES/_bulk" -H 'Content-Type: application/x-ndjson' --data-binary @-; echo
echo "# refresh, then query_string search"
j -XPOST "$ES/$idx/_refresh"
j "$ES/$idx/_search" -d '{"query":{"query_string":{"query":"message:GET AND status:200"}}}'
j "$ES/$idx/_count"
j -XDELETE "$ES/$idx"
