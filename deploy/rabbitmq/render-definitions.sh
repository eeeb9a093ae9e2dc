#!/bin/sh
# render-definitions.sh TEMPLATE OUTPUT: write TEMPLATE with every ${BROKER_*_PASSWORD} replaced by that
# environment variable, for RabbitMQ to load at boot (load_definitions). Passwords go into amqp:// URLs too,
# so they may hold only letters, digits and - _ . ~ (python3 -c 'import secrets; print(secrets.token_urlsafe(24))').
set -eu
template=$1
output=$2
rendered=$(cat "$template")
for name in $(grep -o '\${BROKER_[A-Z_]*_PASSWORD}' "$template" | tr -d '${}' | sort -u); do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "rabbitmq: $name is not set; set it in .env (python deploy/make_secrets.py compose writes one)" >&2
    exit 2
  fi
  case $value in
    *[!A-Za-z0-9_.~-]*)
      echo "rabbitmq: $name may hold only letters, digits and - _ . ~" >&2
      exit 2
      ;;
  esac
  rendered=$(printf '%s\n' "$rendered" | sed "s|\${$name}|$value|g")
done
umask 077
printf '%s\n' "$rendered" > "$output"
