#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Start a HAPI FHIR JPA server (R4) behind nginx (TLS, HTTP/2) on 127.0.0.1,
# wait until /fhir/metadata answers through nginx, run CMD with the server
# described in the environment, stop everything, exit with CMD's status.
#   FHIR_TEST_URL         https://127.0.0.1:PORT/fhir
#   FHIR_TEST_CA          CA file that verifies the server certificate
#   FHIR_TEST_CERTS       folder of make-certs.sh output
#   FHIR_TEST_SERVER_PID  process id of the HAPI server (a JVM)
#   FHIR_TEST_ACCESS_LOG  nginx's access log (the protocol of each request)
#   FHIR_TEST_MAX_BUNDLE_ENTRIES  N of --max-bundle-entries (empty: no limit)
# Usage: run-with-hapi.sh [--db postgres|h2] [--max-bundle-entries N]
#                         [--certs DIR] -- CMD [ARGS ...]
#        run-with-hapi.sh [options] --keep-running
#   --db postgres   a throwaway PostgreSQL cluster in a temporary folder
#   --db h2         HAPI's embedded H2 database, in memory
#                   (default: postgres when its programs are installed, else h2)
#   --max-bundle-entries N   HAPI refuses transaction/batch Bundles of more
#                   than N entries (413); default: no limit
#   --certs DIR     use make-certs.sh output in DIR instead of making it
#   --keep-running  run no command: print the address and wait for Ctrl-C
# Environment: HAPI_JAVA_OPTS (default -Xmx2g -XX:+UseParallelGC
# -XX:TieredStopAtLevel=1: quick start-up on two cores), HAPI_CDS=0 to make
# and use no class data archive (see below), HAPI_START_TIMEOUT seconds
# (default 300), FHIR_TEST_TIMEOUT seconds for CMD (default 1800),
# HAPI_KEEP_LOGS=DIR to keep the HAPI, nginx and PostgreSQL logs in DIR.
# The launcher is built with Maven on first use (target/, downloads into
# ~/.m2) and again only when its sources are newer than the jar. The first
# run after a build also writes a class data archive of the loaded classes
# (target/hapi-cds-*.jsa, on exit); later runs start from it, some seconds
# sooner.
# Exit 77 (skip) with a one-line reason when java, Maven, nginx or the Maven
# artifacts cannot be had.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)

db=auto
max_entries=
certs=
keep=0
while [ $# -gt 0 ]; do
    case $1 in
        --db) db=${2:?--db needs postgres or h2}; shift 2 ;;
        --max-bundle-entries) max_entries=${2:?--max-bundle-entries needs N}; shift 2 ;;
        --certs) certs=${2:?--certs needs DIR}; shift 2 ;;
        --keep-running) keep=1; shift ;;
        --) shift; break ;;
        *) echo "run-with-hapi.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
case $db in auto|postgres|h2) ;; *) echo "run-with-hapi.sh: --db must be postgres or h2" >&2; exit 2 ;; esac
if [ "$keep" = 0 ] && [ $# -eq 0 ]; then
    echo "usage: run-with-hapi.sh [--db postgres|h2] [--max-bundle-entries N] [--certs DIR] (-- CMD... | --keep-running)" >&2
    exit 2
fi

skip() { echo "skip: $*" >&2; exit 77; }
is_root() { [ "$(id -u)" -eq 0 ]; }
apt_install() { # packages...; only as root, quietly; fails if apt cannot
    is_root || return 1
    command -v apt-get >/dev/null || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 && return 0
    apt-get update -qq >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- prerequisites --------------------------------------------------------
command -v java >/dev/null || skip "java not installed (HAPI FHIR needs Java 17)"
command -v mvn >/dev/null || skip "mvn not installed (the HAPI launcher is built with Maven)"
command -v curl >/dev/null || skip "curl not installed"
command -v python3 >/dev/null || skip "python3 not installed"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx-light ||
    skip "nginx not installed and cannot be installed (apt, as root)"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

pg_bindir() {
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(readlink -f "$(command -v initdb)")"
        return 0
    fi
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}
if [ "$db" != h2 ]; then
    pgbin=$(pg_bindir || true)
    if [ -z "$pgbin" ]; then
        apt_install postgresql || true
        pgbin=$(pg_bindir || true)
    fi
    if [ -z "$pgbin" ]; then
        [ "$db" = postgres ] && skip "PostgreSQL not installed and cannot be installed (apt, as root)"
        echo "run-with-hapi.sh: PostgreSQL not installed; using H2" >&2
        db=h2
    else
        db=postgres
    fi
fi

# --- build the launcher (skipped when the jar is newer than its sources) --
jar=$here/target/fhirgen-hapi-server.jar
mkdir -p "$here/target"
(
    # One build at a time when several runs start together.
    if command -v flock >/dev/null; then flock 9; fi
    if [ -f "$jar" ] && [ -z "$(find "$here/pom.xml" "$here/src" -newer "$jar" -print | head -n 1)" ]; then
        exit 0
    fi
    echo "run-with-hapi.sh: building the HAPI launcher (Maven; the first build downloads ~300 MB)" >&2
    rm -rf "$here/target/lib" "$jar" "$here"/target/hapi-cds-*.jsa
    log=$here/target/build.log
    if ! (cd "$here" && mvn -q -B package) > "$log" 2>&1; then
        if grep -q -E 'Could not resolve dependencies|Could not transfer artifact|Non-resolvable|Could not find artifact|Unknown host|Plugin .* could not be resolved' "$log"; then
            echo "skip: Maven cannot resolve the HAPI FHIR artifacts (see $log)" >&2
            exit 77
        fi
        echo "run-with-hapi.sh: Maven build failed:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
) 9> "$here/target/.build.lock" || exit $?

# --- run ------------------------------------------------------------------
exec 3<&0  # CMD's standard input (a background command would get /dev/null)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fhirgen-hapi.XXXXXX")
chmod 755 "$tmp"
cmd_pid=
hapi_pid=
cds_new=
nginx_pid=
pg_started=0
as_db_user=
if is_root; then as_db_user="runuser -u postgres --"; fi
stop_pid() { # pid seconds: TERM, wait up to seconds, then KILL (and return 1)
    kill "$1" 2>/dev/null || return 0
    n=0
    while kill -0 "$1" 2>/dev/null && [ "$n" -lt $(($2 * 10)) ]; do sleep 0.1; n=$((n + 1)); done
    killed=0
    kill -9 "$1" 2>/dev/null && killed=1
    wait "$1" 2>/dev/null || true
    [ "$killed" = 0 ]
}
cleanup() {
    trap - EXIT INT TERM
    set +e
    [ -n "$cmd_pid" ] && stop_pid "$cmd_pid" 10
    [ -n "$nginx_pid" ] && stop_pid "$nginx_pid" 10
    if [ -n "$hapi_pid" ]; then
        # Writing a new class data archive at exit takes a few seconds more.
        if stop_pid "$hapi_pid" 90 && [ -n "$cds_new" ] && [ -s "$cds_new" ]; then
            mv -f "$cds_new" "$cds"
        fi
        [ -n "$cds_new" ] && rm -f "$cds_new"
    fi
    if [ "$pg_started" = 1 ]; then
        $as_db_user "$pgbin/pg_ctl" -D "$tmp/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -n "${HAPI_KEEP_LOGS:-}" ] && mkdir -p "$HAPI_KEEP_LOGS"; then
        cp "$tmp/hapi.log" "$HAPI_KEEP_LOGS/hapi.log" 2>/dev/null || true
        cp "$tmp/nginx/error.log" "$HAPI_KEEP_LOGS/nginx-error.log" 2>/dev/null || true
        cp "$tmp/nginx/access.log" "$HAPI_KEEP_LOGS/nginx-access.log" 2>/dev/null || true
        cp "$tmp/pg/server.log" "$HAPI_KEEP_LOGS/postgresql.log" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap 'status=$?; cleanup; exit $status' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$certs" ]; then certs=$tmp/certs; "$repo/tests/fhirserver/make-certs.sh" "$certs" >/dev/null; fi

# PostgreSQL: a new cluster in $tmp/pg, owned by an unprivileged user, on a
# free port on 127.0.0.1. Durability is off: the data is thrown away at exit.
hapi_db_args="--db h2"
if [ "$db" = postgres ]; then
    mkdir -p "$tmp/pg"
    if is_root; then chown postgres "$tmp/pg"; fi
    pg_port=$(free_port)
    $as_db_user "$pgbin/initdb" -D "$tmp/pg/data" -U hapi -A trust -E UTF8 --locale=C.UTF-8 \
        > "$tmp/pg/initdb.log" 2>&1 || {
        echo "run-with-hapi.sh: initdb failed:" >&2; cat "$tmp/pg/initdb.log" >&2; exit 1; }
    cat >> "$tmp/pg/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$tmp/pg'
max_connections = 60
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    $as_db_user "$pgbin/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/server.log" -w -t 60 start >/dev/null || {
        echo "run-with-hapi.sh: PostgreSQL did not start:" >&2; cat "$tmp/pg/server.log" >&2; exit 1; }
    pg_started=1
    $as_db_user "$pgbin/createdb" -h 127.0.0.1 -p "$pg_port" -U hapi fhir
    hapi_db_args="--db postgres --jdbc-url jdbc:postgresql://127.0.0.1:$pg_port/fhir --db-user hapi"
fi

# HAPI on plain HTTP, 127.0.0.1 only; nginx in front on another port.
hapi_port=$(free_port)
tls_port=$(free_port)
url=https://127.0.0.1:$tls_port/fhir
# Class data sharing: start from the archive of an earlier run of this jar
# and JVM, or write one when this run ends.
cds_opt=
if [ "${HAPI_CDS:-1}" != 0 ]; then
    cds=$here/target/hapi-cds-$(java -version 2>&1 | cksum | cut -d ' ' -f 1).jsa
    # An archive older than the jar (rebuilt by hand) no longer matches it.
    if [ -s "$cds" ] && [ "$cds" -nt "$jar" ]; then
        cds_opt="-XX:SharedArchiveFile=$cds"
    else
        cds_new=$here/target/hapi-cds.$$.tmp
        cds_opt="-XX:ArchiveClassesAtExit=$cds_new"
    fi
fi
# shellcheck disable=SC2086
java ${HAPI_JAVA_OPTS:--Xmx2g -XX:+UseParallelGC -XX:TieredStopAtLevel=1} $cds_opt -jar "$jar" --port "$hapi_port" $hapi_db_args \
    ${max_entries:+--max-bundle-entries "$max_entries"} --public-url "$url" \
    > "$tmp/hapi.out" 2> "$tmp/hapi.log" < /dev/null &
hapi_pid=$!

# nginx as its own unprivileged process (not the system service): config,
# logs, temporary files and a copy of the server key all in $tmp/nginx.
ng=$tmp/nginx
mkdir -p "$ng/tmp"
cp "$certs/server.pem" "$certs/server.key" "$ng/"
nginx_user=
if is_root; then
    nginx_user="setpriv --reuid=nobody --regid=nogroup --clear-groups"
    chown -R nobody "$ng"
fi
cat > "$ng/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections 512; }
http {
    # Each request with its size, status and seconds (total, and in HAPI).
    log_format timed '\$remote_addr [\$time_local] "\$request" \$status '
                     'in=\$request_length out=\$body_bytes_sent '
                     't=\$request_time hapi=\$upstream_response_time';
    access_log $ng/access.log timed;
    client_body_temp_path $ng/tmp/body;
    proxy_temp_path $ng/tmp/proxy;
    fastcgi_temp_path $ng/tmp/fastcgi;
    uwsgi_temp_path $ng/tmp/uwsgi;
    scgi_temp_path $ng/tmp/scgi;
    upstream hapi {
        server 127.0.0.1:$hapi_port;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:$tls_port ssl http2;
        ssl_certificate $ng/server.pem;
        ssl_certificate_key $ng/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        # Bundles of thousands of entries: large bodies, long transactions.
        client_max_body_size 256m;
        client_body_buffer_size 4m;
        keepalive_timeout 900s;
        send_timeout 900s;
        location / {
            proxy_pass http://hapi;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host:\$server_port;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_connect_timeout 10s;
            proxy_send_timeout 900s;
            proxy_read_timeout 900s;
            # Answers stream to the client as HAPI writes them: no size limit,
            # no temporary files for large search pages or transaction responses.
            proxy_buffering off;
            proxy_request_buffering on;
        }
    }
}
EOF
$nginx_user "$nginx_bin" -e "$ng/error.log" -p "$ng" -c "$ng/nginx.conf" > "$ng/stdout" 2>&1 &
nginx_pid=$!

# Wait until HAPI answers /metadata through nginx.
limit=${HAPI_START_TIMEOUT:-300}
start=$(date +%s)
while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 --cacert "$certs/ca.pem" "$url/metadata" || true)
    [ "$code" = 200 ] && break
    if ! kill -0 "$hapi_pid" 2>/dev/null; then
        echo "run-with-hapi.sh: HAPI did not start:" >&2; tail -n 40 "$tmp/hapi.log" >&2; exit 1
    fi
    if ! kill -0 "$nginx_pid" 2>/dev/null; then
        echo "run-with-hapi.sh: nginx did not start:" >&2; cat "$ng/error.log" "$ng/stdout" >&2; exit 1
    fi
    if [ $(($(date +%s) - start)) -ge "$limit" ]; then
        echo "run-with-hapi.sh: HAPI did not answer $url/metadata within $limit s" >&2
        tail -n 40 "$tmp/hapi.log" >&2; exit 1
    fi
    sleep 1
done
echo "run-with-hapi.sh: HAPI FHIR ($db) ready at $url after $(($(date +%s) - start)) s" >&2

if [ "$keep" = 1 ]; then
    cat <<EOF
HAPI FHIR JPA server (R4, database: $db) is running:
  FHIR base   $url
  CA file     $certs/ca.pem
  try         curl --cacert $certs/ca.pem $url/metadata
  load        fhirgen push --server $url --cacert $certs/ca.pem out/bundles
  HAPI log    $tmp/hapi.log
Press Ctrl-C to stop (the database is thrown away).
EOF
    if [ "$certs" = "$tmp/certs" ]; then echo "(the certificates are removed when it stops)"; fi
    while kill -0 "$hapi_pid" 2>/dev/null; do sleep 1; done
    echo "run-with-hapi.sh: HAPI stopped" >&2
    exit 1
fi

# CMD runs in the background and the script waits for it, so that a signal
# to the script stops CMD and the servers at once instead of after CMD ends.
status=0
FHIR_TEST_URL=$url FHIR_TEST_CA=$certs/ca.pem FHIR_TEST_CERTS=$certs FHIR_TEST_SERVER_PID=$hapi_pid \
    FHIR_TEST_MAX_BUNDLE_ENTRIES=$max_entries FHIR_TEST_ACCESS_LOG=$tmp/nginx/access.log \
    timeout "${FHIR_TEST_TIMEOUT:-1800}" "$@" <&3 3<&- &
cmd_pid=$!
wait "$cmd_pid" || status=$?
cmd_pid=
exit "$status"
