#!/usr/bin/env bash
# Debian packages the tests use: a real Prometheus (promtool too), nginx for the
# benchmark, Chromium and CJK fonts for the report screenshot, RabbitMQ and Redis for the
# distributed drills (the tests start their own, on loopback). Installs only what is
# missing; without root it prints what to install and carries on (those tests skip).
set -euo pipefail
need=()
command -v prometheus >/dev/null || need+=(prometheus)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v chromium >/dev/null || need+=(chromium)
fc-list 2>/dev/null | grep -qi "noto.*cjk" || need+=(fonts-noto-cjk)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
command -v redis-server >/dev/null || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "note: not root; install these for the full test suite: ${need[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian package starts a system Prometheus on :9090; tests start their own.
systemctl disable --now prometheus >/dev/null 2>&1 || pkill -x prometheus || true
# Likewise the brokers' and PostgreSQL's system services (RabbitMQ's would listen on every
# interface): the tests start their own, on loopback and ports of their own.
for svc in rabbitmq-server redis-server postgresql; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
done
pkill -x epmd >/dev/null 2>&1 || true
