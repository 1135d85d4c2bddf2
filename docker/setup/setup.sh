#!/usr/bin/env bash
# The compose file's one-shot setup, run in the Elasticsearch image: makes a CA and certificates for
# Elasticsearch, Kibana and Redis (elasticsearch-certutil), then sets the kibana_system password,
# and creates the indexer's API key with the filewarden_indexer role. Idempotent: what exists stays.
set -euo pipefail
certs=/usr/share/elasticsearch/config/certs
out=/run/filewarden
cd /usr/share/elasticsearch

if [ ! -f "$certs/ca/ca.crt" ]; then
  echo "setup: creating the CA"
  bin/elasticsearch-certutil ca --silent --pem --out /tmp/ca.zip
  unzip -q -o /tmp/ca.zip -d "$certs"
fi
if [ ! -f "$certs/elasticsearch/elasticsearch.crt" ]; then
  echo "setup: creating the service certificates"
  cat > /tmp/instances.yml <<'YAML'
instances:
  - name: elasticsearch
    dns: [elasticsearch, localhost]
    ip: [127.0.0.1]
  - name: kibana
    dns: [kibana, localhost]
  - name: redis
    dns: [redis, localhost]
YAML
  bin/elasticsearch-certutil cert --silent --pem --in /tmp/instances.yml --out /tmp/certs.zip \
    --ca-cert "$certs/ca/ca.crt" --ca-key "$certs/ca/ca.key"
  unzip -q -o /tmp/certs.zip -d "$certs"
fi
# Elasticsearch and Kibana run as uid 1000 with gid 0; Redis as uid 999. The CA key leaves no copy.
chown -R 0:0 "$certs"
find "$certs" -type d -exec chmod 755 {} +
find "$certs" -type f -name '*.crt' -exec chmod 644 {} +
find "$certs" -type f -name '*.key' -exec chmod 640 {} +
chown 999:999 "$certs/redis/redis.key" && chmod 600 "$certs/redis/redis.key"
chmod 600 "$certs/ca/ca.key"

es() { curl -s --cacert "$certs/ca/ca.crt" -u "elastic:${ELASTIC_PASSWORD}" -H 'Content-Type: application/json' "$@"; }
echo "setup: waiting for Elasticsearch"
until curl -s --cacert "$certs/ca/ca.crt" https://elasticsearch:9200 | grep -q 'missing authentication credentials'; do sleep 2; done

echo "setup: kibana_system password"
until es -X POST https://elasticsearch:9200/_security/user/kibana_system/_password -d "{\"password\":\"${KIBANA_PASSWORD}\"}" | grep -q '^{}'; do sleep 2; done

# The indexer writes with op_type create only (it cannot overwrite evidence); delete and
# delete_index are for the retention job it runs (--retention-policy): docs/compliance.md.
role='{
  "cluster": ["monitor", "manage_index_templates"],
  "indices": [
    { "names": ["filewarden-events-*", "filewarden-deadletter", "filewarden-alerts", "filewarden-audit"],
      "privileges": ["create_doc", "create_index", "view_index_metadata", "read", "delete", "delete_index"] },
    { "names": ["filewarden-checkpoints"], "privileges": ["index", "create_index", "read"] }
  ]
}'
es -X PUT https://elasticsearch:9200/_security/role/filewarden_indexer -d "$role" | grep -q '"created"'
mkdir -p "$out"
if [ ! -s "$out/indexer-api-key" ]; then
  echo "setup: the indexer's API key"
  key=$(es -X POST https://elasticsearch:9200/_security/api_key -d "{\"name\":\"filewarden-indexer\",\"role_descriptors\":{\"filewarden_indexer\":$role}}" |
    grep -o '"encoded":"[^"]*"' | cut -d'"' -f4)
  [ -n "$key" ] || { echo "setup: creating the API key failed" >&2; exit 1; }
  umask 077
  printf '%s' "$key" > "$out/indexer-api-key"
  chown 10001 "$out/indexer-api-key"
fi
echo "setup: done"
