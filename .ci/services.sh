#!/usr/bin/env bash
# CI only (called by .ci/run on CI's own machine, as root; never by scripts/test.sh, never on a
# developer's machine): make sure the machine's services answer:
#   Redis       127.0.0.1:6379
#   PostgreSQL  127.0.0.1:5432, trust auth, database `test`
# A service that already answers is left alone. One that does not is started, after installing
# it with apt-get when its binaries are missing (and, for PostgreSQL, trusting 127.0.0.1 in its
# pg_hba.conf). Idempotent; exits non-zero, saying why, when a service cannot be brought up.
# The integration tests themselves start their own throwaway servers (tests/servers.py).
#
# GRAFT_CI_REDIS_PORT (default 6379) exists to exercise the start path next to a running Redis.
set -euo pipefail

REDIS_HOST=127.0.0.1
REDIS_PORT="${GRAFT_CI_REDIS_PORT:-6379}"
PG_HOST=127.0.0.1
PG_PORT=5432
PG_DB=test
WAIT_S=30

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    SUDO=()
fi

die() {
    echo "services.sh: $*" >&2
    exit 1
}

python_bin() {
    command -v python3 || command -v python || true
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "$1 is not installed and apt-get is not available"
    echo "services.sh: installing $* with apt-get" >&2
    if [[ $APT_UPDATED -eq 0 ]]; then
        "${SUDO[@]}" apt-get update -qq >&2 || die "apt-get update failed"
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "$@" >&2 \
        || die "apt-get install $* failed"
}

# wait_for CMD...: run CMD once a second until it succeeds, for at most WAIT_S seconds.
wait_for() {
    local i
    for ((i = 0; i < WAIT_S; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    "$@" >/dev/null 2>&1
}

# ---- Redis --------------------------------------------------------------------------------

redis_ping() {
    if command -v redis-cli >/dev/null 2>&1; then
        [[ $(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
        return
    fi
    local py
    py=$(python_bin)
    [[ -n $py ]] || return 1
    "$py" - "$REDIS_HOST" "$REDIS_PORT" 2>/dev/null <<'EOF'
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2) as s:
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(64).startswith(b"+PONG") else 1)
EOF
}

ensure_redis() {
    if redis_ping; then
        echo "redis: up (already running)"
        return
    fi
    local installed=""
    if ! command -v redis-server >/dev/null 2>&1; then
        apt_install redis-server
        installed=" (installed redis-server)"
        # The package may have started its own instance on the default port.
        if redis_ping; then
            echo "redis: started$installed"
            return
        fi
    fi
    local log=/var/log/redis/ci.log
    [[ $REDIS_PORT == 6379 ]] || log=/var/log/redis/ci-$REDIS_PORT.log
    "${SUDO[@]}" mkdir -p /var/lib/redis /var/log/redis
    "${SUDO[@]}" redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
        --save "" --appendonly no --dir /var/lib/redis --logfile "$log" \
        --pidfile "/var/run/redis_$REDIS_PORT.pid" \
        || die "redis-server failed to start (see $log)"
    wait_for redis_ping \
        || die "redis does not answer on $REDIS_HOST:$REDIS_PORT after ${WAIT_S}s (see $log)"
    echo "redis: started$installed"
}

# ---- PostgreSQL ---------------------------------------------------------------------------

pg_ready() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
        return
    fi
    local py
    py=$(python_bin)
    [[ -n $py ]] || return 1
    "$py" -c "import socket,sys; socket.create_connection(('$PG_HOST', $PG_PORT), timeout=2)" \
        2>/dev/null
}

pg_sql() {  # pg_sql DB SQL: run SQL as postgres over TCP (needs trust auth for 127.0.0.1)
    psql -X -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d "$1" -Atc "$2"
}

pg_version() {  # the newest installed server version, e.g. 15
    local v
    v=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [[ -n $v ]] || v=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
    echo "$v"
}

# Trust TCP connections from 127.0.0.1 and ::1 in the cluster's pg_hba.conf, then reload.
pg_trust_localhost() {
    local ver=$1 hba
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    [[ -f $hba ]] || die "no $hba: cannot set trust auth for PostgreSQL"
    "${SUDO[@]}" sed -i -E \
        -e 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+).*$#\1trust#' \
        -e 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+::1/128[[:space:]]+).*$#\1trust#' \
        "$hba"
    if ! "${SUDO[@]}" grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
        # No such line to rewrite: put one first, so it wins over any later rule.
        "${SUDO[@]}" sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    fi
    "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$ver" main reload >/dev/null 2>&1 || true
    sleep 1
}

ensure_postgres() {
    local status=""
    if pg_ready; then
        status="up (already running)"
    else
        if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v pg_isready >/dev/null 2>&1 \
            || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
            apt_install postgresql
        fi
        local ver
        ver=$(pg_version)
        [[ -n $ver ]] || die "PostgreSQL is installed but no server version was found"
        if [[ ! -d /etc/postgresql/$ver/main ]]; then
            "${SUDO[@]}" pg_createcluster "$ver" main >/dev/null \
                || die "pg_createcluster $ver main failed"
            pg_trust_localhost "$ver"
        fi
        if ! pg_ready; then
            "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$ver" main start \
                || die "pg_ctlcluster $ver main start failed (see /var/log/postgresql/)"
        fi
        wait_for pg_ready \
            || die "PostgreSQL does not answer on $PG_HOST:$PG_PORT after ${WAIT_S}s" \
                   "(see /var/log/postgresql/)"
        status="started"
    fi

    command -v psql >/dev/null 2>&1 || die "psql is missing: cannot check database $PG_DB"
    if ! pg_sql postgres "select 1" >/dev/null 2>&1; then
        local ver
        ver=$(pg_version)
        [[ -n $ver ]] || die "cannot connect as postgres to $PG_HOST:$PG_PORT without a password"
        pg_trust_localhost "$ver"
        pg_sql postgres "select 1" >/dev/null 2>&1 \
            || die "cannot connect as postgres to $PG_HOST:$PG_PORT without a password" \
                   "(trust auth for 127.0.0.1 in pg_hba.conf?)"
    fi
    if [[ $(pg_sql postgres "select 1 from pg_database where datname = '$PG_DB'") != 1 ]]; then
        createdb -w -h "$PG_HOST" -p "$PG_PORT" -U postgres "$PG_DB" \
            || die "could not create database $PG_DB"
        status="$status, created database $PG_DB"
    fi
    echo "postgres: $status"
}

ensure_redis
ensure_postgres
