#!/usr/bin/env bash
# Makes sure a Redis server answers on 127.0.0.1:6379; installs and starts
# redis-server when none does (CI and fresh machines).
set -euo pipefail
HOST=127.0.0.1 PORT=6379
ping() { (exec 3<>/dev/tcp/$HOST/$PORT && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null; }
if ping; then echo "redis: answering on $HOST:$PORT"; exit 0; fi
if ! command -v redis-server >/dev/null; then
  echo "redis: installing redis-server"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
fi
mkdir -p /tmp/augur-redis
redis-server --daemonize yes --bind 127.0.0.1 --port $PORT --save "" --appendonly no \
  --dir /tmp/augur-redis --logfile /tmp/augur-redis/redis.log
for _ in $(seq 50); do ping && { echo "redis: started on $HOST:$PORT"; exit 0; }; sleep 0.1; done
echo "redis: could not start redis-server (see /tmp/augur-redis/redis.log)" >&2
exit 1
