# shellcheck shell=bash
# PostgreSQL and Redis for the test suite. Source this file (scripts/test does); it exports
#   SWITCHYARD_TEST_POSTGRES  e.g. postgres://postgres@127.0.0.1:5432/test
#   SWITCHYARD_TEST_REDIS     e.g. redis://127.0.0.1:6379
# For each service, in order:
#   1. the variable is already set: use it as is;
#   2. the default server on 127.0.0.1 answers (PostgreSQL :5432, database `test`, user
#      `postgres`, no password; Redis :6379): use it;
#   3. otherwise start a throwaway server on a free port in a temp dir.
# SWITCHYARD_TEST_FORCE_THROWAWAY=1 skips step 2 (always start throwaway servers unless the
# variable is set explicitly); useful to test this script or to keep tests off a shared server.
#
# The caller must run `switchyard_services_cleanup` on exit (scripts/test: `trap ... EXIT`);
# it stops only the servers this file started and removes their temp dirs. Sourcing returns
# non-zero (after cleaning up) if a service can neither be found nor started.
#
# Needs, for throwaway servers: Debian's `postgresql` package (initdb / pg_ctl under
# /usr/lib/postgresql/*/bin) and `redis-server` (redis-server, redis-cli). initdb and
# postgres refuse to run as root, so as root they run as the `postgres` user (else `nobody`).

_sy_pg_dir="" _sy_pg_bin="" _sy_pg_user="" _sy_redis_dir="" _sy_redis_pid="" _sy_redis_port=""

_sy_say() { printf 'services: %s\n' "$*"; }
_sy_err() { printf 'services: ERROR: %s\n' "$*" >&2; }
# A URL with its password (if any) masked, for printing.
_sy_mask() { printf '%s' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'; }

# A TCP port on 127.0.0.1 that nothing listens on right now.
_sy_free_port() {
  local p i
  if command -v python3 >/dev/null 2>&1 \
    && p=$(timeout 10 python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null) \
    && [ -n "$p" ]; then
    printf '%s\n' "$p"
    return 0
  fi
  # No python3: try random high ports until one refuses connections.
  for i in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  _sy_err "could not find a free TCP port on 127.0.0.1 (tried $i)"
  return 1
}

# Run a command as the unprivileged user that owns the throwaway PostgreSQL (directly when
# not root), from inside its temp dir so the user can always stat its working directory.
_sy_pg_run() {
  if [ -z "$_sy_pg_user" ]; then
    (cd "$_sy_pg_dir" && "$@")
  elif command -v runuser >/dev/null 2>&1; then
    (cd "$_sy_pg_dir" && runuser -u "$_sy_pg_user" -- "$@")
  else
    (cd "$_sy_pg_dir" && setpriv --reuid="$_sy_pg_user" --regid="$(id -g "$_sy_pg_user")" --clear-groups -- "$@")
  fi
}

# psql with no password sources, so a success means the bare URL works as the tests use it.
_sy_psql() {
  local psql
  psql=$(command -v psql 2>/dev/null || true)
  if [ -z "$psql" ] && [ -n "$_sy_pg_bin" ]; then psql="$_sy_pg_bin/psql"; fi
  [ -n "$psql" ] || return 1
  env -u PGPASSWORD PGPASSFILE=/nonexistent/.pgpass PGCONNECT_TIMEOUT=3 \
    timeout 10 "$psql" -X -w -q -At -v ON_ERROR_STOP=1 "$@" </dev/null
}

_sy_redis_ping() { # port
  [ "$(env -u REDISCLI_AUTH timeout 5 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
}

_sy_start_postgres() {
  local bin="" d port log locale_opt
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then bin=$d; break; fi
  done
  if [ -z "$bin" ] && command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    bin=$(dirname "$(command -v initdb)")
  fi
  if [ -z "$bin" ]; then
    _sy_err "no PostgreSQL answers at postgres://postgres@127.0.0.1:5432/test and initdb/pg_ctl were not found (looked in /usr/lib/postgresql/*/bin and PATH) to start one."
    _sy_err "install the Debian package 'postgresql' (apt-get install postgresql), or set SWITCHYARD_TEST_POSTGRES to a database URL."
    return 1
  fi
  _sy_pg_bin=$bin

  if [ "$(id -u)" = 0 ]; then
    if id -u postgres >/dev/null 2>&1; then _sy_pg_user=postgres; else _sy_pg_user=nobody; fi
    if ! command -v runuser >/dev/null 2>&1 && ! command -v setpriv >/dev/null 2>&1; then
      _sy_err "running as root: PostgreSQL must run as another user, but neither runuser nor setpriv (Debian package util-linux) is installed."
      return 1
    fi
    # /tmp, not $TMPDIR: every user can traverse it.
    _sy_pg_dir=$(mktemp -d /tmp/switchyard-pg.XXXXXX) || { _sy_err "mktemp failed"; return 1; }
    chown "$_sy_pg_user:$(id -g "$_sy_pg_user")" "$_sy_pg_dir" || { _sy_err "chown $_sy_pg_dir to $_sy_pg_user failed"; return 1; }
  else
    _sy_pg_user=""
    _sy_pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-pg.XXXXXX") || { _sy_err "mktemp failed"; return 1; }
  fi
  log=$_sy_pg_dir/postgres.log
  # The machine's cluster uses C.UTF-8; use it too when the system has it.
  if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then locale_opt=--locale=C.UTF-8; else locale_opt=--no-locale; fi

  if ! _sy_pg_run timeout 120 "$bin/initdb" -D "$_sy_pg_dir/data" -U postgres --auth=trust \
    --encoding=UTF8 "$locale_opt" >"$_sy_pg_dir/initdb.log" 2>&1; then
    _sy_err "initdb failed (as ${_sy_pg_user:-$(id -un)}); its output:"
    sed 's/^/  /' "$_sy_pg_dir/initdb.log" >&2
    return 1
  fi
  port=$(_sy_free_port) || return 1
  # fsync off: a throwaway cluster need not survive a crash, and tests run faster.
  if ! _sy_pg_run timeout 90 "$bin/pg_ctl" -D "$_sy_pg_dir/data" -l "$log" -w -t 60 \
    -o "-p $port -k '$_sy_pg_dir' -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1; then
    _sy_err "could not start PostgreSQL on port $port (as ${_sy_pg_user:-$(id -un)}); its log:"
    sed 's/^/  /' "$log" >&2 2>/dev/null || true
    return 1
  fi
  if ! _sy_psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'create database test' >/dev/null; then
    _sy_err "started PostgreSQL on port $port but could not create database test"
    return 1
  fi
  export SWITCHYARD_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/test"
  _sy_say "started a throwaway PostgreSQL on port $port ($SWITCHYARD_TEST_POSTGRES, data in $_sy_pg_dir)"
}

_sy_start_redis() {
  local port i
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    _sy_err "no Redis answers at redis://127.0.0.1:6379 and redis-server/redis-cli are not on PATH to start one."
    _sy_err "install the Debian package 'redis-server' (apt-get install redis-server), or set SWITCHYARD_TEST_REDIS to a Redis URL."
    return 1
  fi
  _sy_redis_dir=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-redis.XXXXXX") || { _sy_err "mktemp failed"; return 1; }
  port=$(_sy_free_port) || return 1
  _sy_redis_port=$port
  if ! timeout 30 redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --dir "$_sy_redis_dir" --pidfile "$_sy_redis_dir/redis.pid" \
    --logfile "$_sy_redis_dir/redis.log" >/dev/null 2>&1; then
    _sy_err "redis-server failed to start on port $port"
    sed 's/^/  /' "$_sy_redis_dir/redis.log" >&2 2>/dev/null || true
    return 1
  fi
  for i in $(seq 1 100); do # up to ~10 s
    if _sy_redis_ping "$port"; then break; fi
    sleep 0.1
  done
  _sy_redis_pid=$(cat "$_sy_redis_dir/redis.pid" 2>/dev/null || true)
  if ! _sy_redis_ping "$port"; then
    _sy_err "started redis-server on port $port but it did not answer PING within 10 s; its log:"
    sed 's/^/  /' "$_sy_redis_dir/redis.log" >&2 2>/dev/null || true
    return 1
  fi
  export SWITCHYARD_TEST_REDIS="redis://127.0.0.1:$port"
  _sy_say "started a throwaway Redis on port $port ($SWITCHYARD_TEST_REDIS, in $_sy_redis_dir)"
}

# Is pid alive (not a zombie) and running the program named $2, so a recycled pid is never
# touched?
_sy_is() { # pid name
  local comm state
  if [ -r "/proc/$1/stat" ]; then
    comm=$(cat "/proc/$1/comm" 2>/dev/null || true)
    state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null || true)
  else
    comm=$(ps -o comm= -p "$1" 2>/dev/null || true)
    state=$(ps -o state= -p "$1" 2>/dev/null || true)
  fi
  [ "$comm" = "$2" ] && [ "$state" != Z ]
}

# Wait (bounded) for process pid, running program name, to exit; kill it if it will not.
_sy_reap() { # pid name seconds
  local pid=$1 i
  [ -n "$pid" ] || return 0
  for i in $(seq 1 $(($3 * 10))); do
    _sy_is "$pid" "$2" || return 0
    sleep 0.1
  done
  _sy_err "$2 (pid $pid) did not stop; killing it"
  kill -TERM "$pid" 2>/dev/null || true
  sleep 1
  if _sy_is "$pid" "$2"; then kill -KILL "$pid" 2>/dev/null || true; fi
}

# Stop what this file started and remove its temp dirs. Safe to call more than once, and
# never fails (it runs from an EXIT trap, where a failure would change the exit status).
switchyard_services_cleanup() {
  local pid
  if [ -n "$_sy_redis_dir" ]; then
    pid=${_sy_redis_pid:-$(cat "$_sy_redis_dir/redis.pid" 2>/dev/null || true)}
    if [ -n "$_sy_redis_port" ]; then
      env -u REDISCLI_AUTH timeout 10 redis-cli -h 127.0.0.1 -p "$_sy_redis_port" shutdown nosave >/dev/null 2>&1 || true
    fi
    _sy_reap "$pid" redis-server 10 || true
    rm -rf "$_sy_redis_dir" || true
    _sy_redis_dir="" _sy_redis_pid="" _sy_redis_port=""
  fi
  if [ -n "$_sy_pg_dir" ]; then
    pid=$(head -n 1 "$_sy_pg_dir/data/postmaster.pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then
      _sy_pg_run timeout 40 "$_sy_pg_bin/pg_ctl" -D "$_sy_pg_dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
        || _sy_pg_run timeout 20 "$_sy_pg_bin/pg_ctl" -D "$_sy_pg_dir/data" -m immediate -w -t 10 stop >/dev/null 2>&1 \
        || true
      _sy_reap "$pid" postgres 10 || true
    fi
    rm -rf "$_sy_pg_dir" || true
    _sy_pg_dir=""
  fi
  return 0
}

_sy_setup_postgres() {
  local default=postgres://postgres@127.0.0.1:5432/test
  if [ -n "${SWITCHYARD_TEST_POSTGRES:-}" ]; then
    export SWITCHYARD_TEST_POSTGRES
    _sy_say "using PostgreSQL at $(_sy_mask "$SWITCHYARD_TEST_POSTGRES") (from SWITCHYARD_TEST_POSTGRES)"
  elif [ "${SWITCHYARD_TEST_FORCE_THROWAWAY:-}" != 1 ] \
    && [ "$(_sy_psql -h 127.0.0.1 -p 5432 -U postgres -d test -c 'select 1' 2>/dev/null)" = 1 ]; then
    export SWITCHYARD_TEST_POSTGRES=$default
    _sy_say "using PostgreSQL at $default (running)"
  else
    _sy_start_postgres
  fi
}

_sy_setup_redis() {
  if [ -n "${SWITCHYARD_TEST_REDIS:-}" ]; then
    export SWITCHYARD_TEST_REDIS
    _sy_say "using Redis at $(_sy_mask "$SWITCHYARD_TEST_REDIS") (from SWITCHYARD_TEST_REDIS)"
  elif [ "${SWITCHYARD_TEST_FORCE_THROWAWAY:-}" != 1 ] && command -v redis-cli >/dev/null 2>&1 \
    && _sy_redis_ping 6379; then
    export SWITCHYARD_TEST_REDIS=redis://127.0.0.1:6379
    _sy_say "using Redis at redis://127.0.0.1:6379 (running)"
  else
    _sy_start_redis
  fi
}

if ! _sy_setup_postgres || ! _sy_setup_redis; then
  switchyard_services_cleanup
  _sy_err "PostgreSQL and Redis are required by the Rust tests (see above)."
  return 1 2>/dev/null || exit 1
fi
