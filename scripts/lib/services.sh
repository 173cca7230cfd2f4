# Brings up what gatehouse needs on loopback when it is not already there: PostgreSQL and Redis.
# Sourced by scripts/test and scripts/run. Uses the ones DATABASE_URL / REDIS_URL point at when
# they answer; otherwise installs (Debian/Ubuntu, apt) and starts local ones on 127.0.0.1.

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to run: $*" >&2; return 1; fi
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${GATEHOUSE_APT_UPDATED:-}" ]; then as_root apt-get update -qq; GATEHOUSE_APT_UPDATED=1; fi
  as_root apt-get install -y -qq "$@" >/dev/null
}

# host and port of a URL like scheme://user:pw@host:port/db
url_host() { local h="${1#*://}"; h="${h#*@}"; h="${h%%/*}"; h="${h%%\?*}"; echo "${h%:*}"; }
url_port() { local h="${1#*://}"; h="${h#*@}"; h="${h%%/*}"; h="${h%%\?*}"; [ "${h##*:}" != "$h" ] && echo "${h##*:}" || echo "$2"; }

tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

is_local() { case "$1" in 127.0.0.1|localhost|::1|'[::1]') return 0;; *) return 1;; esac; }

wait_for() { # name host port
  for _ in $(seq 1 60); do tcp_open "$2" "$3" && return 0; sleep 0.5; done
  echo "$1 did not come up on $2:$3" >&2; return 1
}

# Succeeds (1) when the service answers; fails when it is remote and does not; otherwise (0)
# says that a local one will be started. Sets host and port.
needs_local() { # name url default-port variable
  host=$(url_host "$2"); port=$(url_port "$2" "$3")
  if tcp_open "$host" "$port"; then return 1; fi
  if ! is_local "$host"; then echo "$1 at $host:$port ($4) does not answer" >&2; exit 1; fi
  echo "$1 is not running on $host:$port: starting a local one" >&2
}

ensure_postgres() {
  local host port
  needs_local PostgreSQL "$1" 5432 DATABASE_URL || return 0
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    as_root pg_createcluster "$version" main -p "$port" >/dev/null
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || as_root pg_ctlcluster "$version" main start
  wait_for PostgreSQL "$host" "$port"
  # A fresh Debian cluster authenticates TCP clients by password: give the postgres role the
  # password the default URL uses (local development only).
  # From `/`: the postgres user may not enter the caller's working directory.
  (cd / && as_root runuser -u postgres -- psql -qp "$port" -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null)
}

ensure_redis() {
  local host port
  needs_local Redis "$1" 6379 REDIS_URL || return 0
  command -v redis-server >/dev/null || apt_install redis-server
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --logfile /tmp/gatehouse-redis.log
  wait_for Redis "$host" "$port"
}
