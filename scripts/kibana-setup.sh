#!/bin/sh
# Creates the Kibana index pattern <prefix>-* with @timestamp as time field,
# so logs are searchable in Discover right away. Idempotent: a fixed id means
# a second run overwrites the same saved object.
#   KIBANA_URL=http://localhost:5601 INDEX_PREFIX=logcollect scripts/kibana-setup.sh
set -eu
KIBANA_URL=${KIBANA_URL:-http://localhost:5601}
INDEX_PREFIX=${INDEX_PREFIX:-logcollect}
i=0
until curl -fs "$KIBANA_URL/api/status" >/dev/null; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then echo "kibana-setup: Kibana at $KIBANA_URL not up after 120s" >&2; exit 1; fi
  sleep 2
done
curl -fsS -X POST "$KIBANA_URL/api/saved_objects/index-pattern/${INDEX_PREFIX}-logs?overwrite=true" \
  -H 'kbn-xsrf: true' -H 'Content-Type: application/json' \
  -d "{\"attributes\":{\"title\":\"${INDEX_PREFIX}-*\",\"timeFieldName\":\"@timestamp\"}}" >/dev/null
curl -fsS -X POST "$KIBANA_URL/api/kibana/settings" \
  -H 'kbn-xsrf: true' -H 'Content-Type: application/json' \
  -d "{\"changes\":{\"defaultIndex\":\"${INDEX_PREFIX}-logs\"}}" >/dev/null
echo "kibana-setup: index pattern ${INDEX_PREFIX}-* (time field @timestamp) ready at $KIBANA_URL/app/discover"
