#!/usr/bin/env bash
# gatelog lab 2: the same kind of stack as samples/lab (HAProxy -> 2 nginx -> php-fpm), but
# configured the way another team would, and logged the way deployments write logs:
#
#   * HAProxy logs through a real rsyslogd (Debian's default RSYSLOG_TraditionalFileFormat:
#     "Dec  5 15:20:01 vm haproxy[123]: ...", no year), health-check lines included
#     (option log-health-checks), and at the same time to stdout with `format raw`;
#   * nginx writes two access logs per vhost (`combined` and a `timing` log with rt= uct= uht=
#     urt= ua= us= rid= fields), to files and the timing log to /dev/stdout, its error log to a
#     file and to /dev/stderr (the official nginx image's layout);
#   * php-fpm `pm = ondemand`, TCP 127.0.0.1:29000, custom access.format, its master log, the
#     pool access log and PHP's own error_log all to stderr (/proc/self/fd/2,
#     catch_workers_output = yes, decorate_workers_output = no: the official php image);
#   * every server's stdout/stderr goes through capture.py, which writes them as containerd's
#     CRI plugin (var/log/pods/...) and Docker's json-file driver (var/lib/docker/containers/...)
#     write them.
#
#   usage: samples/lab2/run.sh SCENARIO OUTDIR
#          samples/lab2/run.sh all DIR        (every scenario into DIR/<scenario>)
#
# Runs as root (Debian 12 packages nginx, php8.2-fpm, haproxy, rsyslog, curl; python3 for the
# capture shim). Listens on 127.0.0.1 only (28080-28082, 29000) plus a unix syslog socket in
# the prefix; configs are generated into a mktemp prefix (nothing under /etc is touched, no
# distro service is started); every load loop is bounded in count and time; every process
# started here is stopped by its PID.
set -euo pipefail

SCENARIOS=(fpm_saturation fpm_down upstream_read_timeout rate_limit lb_backend_down app_error)

usage() { echo "usage: $0 SCENARIO OUTDIR   (SCENARIO: ${SCENARIOS[*]} | all)" >&2; exit 2; }
[ $# -eq 2 ] || usage
SCENARIO=$1
OUTDIR=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "$SCENARIO" = all ]; then
  for s in "${SCENARIOS[@]}"; do "$0" "$s" "$OUTDIR/$s"; done
  exit 0
fi
case " ${SCENARIOS[*]} " in *" $SCENARIO "*) ;; *) usage ;; esac
[ "$(id -u)" -eq 0 ] || { echo "run as root (nginx/php-fpm drop to www-data)" >&2; exit 1; }

export TZ=UTC LC_ALL=C

HAP_PORT=28080 NGX1_PORT=28081 NGX2_PORT=28082 FPM_PORT=29000 FPM_API_PORT=29001
LB=http://127.0.0.1:$HAP_PORT

# ---------------------------------------------------------------- packages
ensure_packages() {
  local missing=()
  command -v nginx >/dev/null || missing+=(nginx)
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v curl >/dev/null || missing+=(curl)
  command -v python3 >/dev/null || missing+=(python3)
  [ -x /usr/sbin/rsyslogd ] || missing+=(rsyslog)
  ls /usr/sbin/php-fpm* >/dev/null 2>&1 || missing+=(php-fpm)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}
ensure_packages
FPM_BIN=$(ls /usr/sbin/php-fpm* | sort -V | tail -1)
NGX_VER=$(nginx -v 2>&1 | sed 's|.*nginx/||')
FPM_VER=$("$FPM_BIN" -v | sed -n '1s/^PHP \([^ ]*\).*/\1/p')
HAP_VER=$(haproxy -v | sed -n '1s/^HAProxy version \([0-9.]*\).*/\1/p')
RSYSLOG_VER=$(/usr/sbin/rsyslogd -v | sed -n '1s/^rsyslogd  *\([0-9.]*\).*/\1/p')

for p in $HAP_PORT $NGX1_PORT $NGX2_PORT $FPM_PORT $FPM_API_PORT; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "port $p already in use" >&2; exit 1; fi
done

# ---------------------------------------------------------------- scenario knobs
FPM_MAX=10 NGX_READ_TIMEOUT=30s NGX_LIMIT_REQ=""
case $SCENARIO in
  fpm_saturation)        FPM_MAX=3 NGX_READ_TIMEOUT=3s ;;
  upstream_read_timeout) FPM_MAX=12 NGX_READ_TIMEOUT=2s ;;
  rate_limit)            NGX_LIMIT_REQ='limit_req zone=perip burst=5 nodelay;' ;;
esac

# ---------------------------------------------------------------- prefix & cleanup
PREFIX=$(mktemp -d /tmp/gatelog-lab2.XXXXXX)
chmod 755 "$PREFIX"
mkdir -p "$PREFIX"/{conf,logs/nginx1,logs/nginx2,logs/php,run,tmp,rsyslog,www/api,out}
chown www-data:www-data "$PREFIX/tmp" "$PREFIX/logs/php"
CLIENT_LOG=$PREFIX/client.log    # "phase status" per request, from curl
: >"$CLIENT_LOG"
OUT=$PREFIX/out                  # container logs are written here, then copied to OUTDIR

RSYSLOG_PID="" FPM_PID="" NGX1_PID="" NGX2_PID="" HAP_PID=""
LOAD_PIDS=()

stop_pid() { # stop_pid PID [SIG]: signal one process we started and wait (bounded) for it
  local pid=$1 sig=${2:-TERM} i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -s "$sig" "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -s KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local p
  for p in "${LOAD_PIDS[@]}"; do stop_pid "$p"; done
  stop_pid "$HAP_PID" USR1
  stop_pid "$NGX1_PID" QUIT; stop_pid "$NGX2_PID" QUIT
  stop_pid "$FPM_PID" QUIT
  sleep 0.5
  stop_pid "$RSYSLOG_PID"
  if [ "${KEEP_PREFIX:-0}" != 1 ]; then rm -rf "$PREFIX"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- content
cat >"$PREFIX/www/index.php" <<'EOF'
<?php
// a cheap page: 5-20 ms of work
usleep(random_int(5000, 20000));
echo "<p>hello from pid ", getmypid(), "</p>\n";
EOF
cat >"$PREFIX/www/slow.php" <<'EOF'
<?php
// an expensive page: ?s=SECONDS of (simulated) work
function fetch_rows($s) { usleep((int)($s * 1000000)); return []; }
$s = isset($_GET['s']) ? (float)$_GET['s'] : 1.0;
fetch_rows(min($s, 30));
echo "report done\n";
EOF
cat >"$PREFIX/www/checkout.php" <<'EOF'
<?php
// a page with a bug: calls a function that a deploy forgot to ship (PHP Fatal error, 500);
// ?trace=1 throws instead, with a long message (the SQL of a big IN list): one PHP error
// line of ~20 KB, which the container runtimes cut into 16 KiB pieces
if (isset($_GET['trace'])) {
    $ids = implode(',', range(100000, 103399));
    throw new RuntimeException("query failed: SELECT * FROM orders WHERE id IN ($ids)");
}
$total = compute_cart_total($_GET['cart'] ?? 'none');
echo "total $total\n";
EOF
cp "$PREFIX/www/index.php" "$PREFIX/www/checkout.php" "$PREFIX/www/api/"
chmod -R a+rX "$PREFIX/www"

# ---------------------------------------------------------------- php-fpm config
FPM_CONF=$PREFIX/conf/php-fpm.conf
cat >"$FPM_CONF" <<EOF
; generated by samples/lab2/run.sh (scenario $SCENARIO), laid out as the official php image
; (docker-php-ext zz-docker.conf): everything to stderr, workers' output caught undecorated
[global]
pid = $PREFIX/run/php-fpm.pid
error_log = /proc/self/fd/2
log_level = notice
log_limit = 32768
daemonize = no

[www]
user = www-data
group = www-data
listen = 127.0.0.1:$FPM_PORT
listen.allowed_clients = 127.0.0.1
pm = ondemand
pm.max_children = $FPM_MAX
pm.process_idle_timeout = 10s
pm.max_requests = 500
access.log = /proc/self/fd/2
access.format = '%{REMOTE_ADDR}e [%t] "%m %{REQUEST_URI}e" %s %{milli}d ms %{kilo}M KB %C%% pool=%n pid=%p'
catch_workers_output = yes
decorate_workers_output = no
clear_env = no
php_admin_flag[display_errors] = off
; no error_log for PHP itself: PHP errors go to the worker's stderr ("NOTICE: PHP message: ..."
; caught by the master onto its stderr) and to nginx ("FastCGI sent in stderr")

; the team's API pool keeps PHP's own error log in a file ([05-Dec-2026 15:20:01 UTC] PHP ...),
; which PHP then writes instead of the stderr/FastCGI messages
[api]
user = www-data
group = www-data
listen = 127.0.0.1:$FPM_API_PORT
listen.allowed_clients = 127.0.0.1
pm = ondemand
pm.max_children = 5
pm.process_idle_timeout = 10s
access.log = /proc/self/fd/2
access.format = '%{REMOTE_ADDR}e [%t] "%m %{REQUEST_URI}e" %s %{milli}d ms %{kilo}M KB %C%% pool=%n pid=%p'
catch_workers_output = yes
decorate_workers_output = no
clear_env = no
php_admin_flag[display_errors] = off
php_admin_flag[log_errors] = on
php_admin_value[error_log] = $PREFIX/logs/php/php-error.log
EOF

# ---------------------------------------------------------------- nginx config
cp /etc/nginx/fastcgi_params "$PREFIX/conf/fastcgi_params"
nginx_conf() { # nginx_conf ID PORT
  cat <<EOF
# generated by samples/lab2/run.sh (scenario $SCENARIO), web$(($1 - 1)) (nginx$1)
user www-data;
worker_processes 1;
pid $PREFIX/run/nginx$1.pid;
error_log $PREFIX/logs/nginx$1/error.log warn;
error_log /dev/stderr warn;

events { worker_connections 512; }

http {
    default_type text/plain;

    log_format timing '\$remote_addr - \$remote_user [\$time_local] "\$request" '
                      '\$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" '
                      'rt=\$request_time uct="\$upstream_connect_time" uht="\$upstream_header_time" '
                      'urt="\$upstream_response_time" ua="\$upstream_addr" us="\$upstream_status" '
                      'rid=\$request_id';

    client_body_temp_path $PREFIX/tmp/client_body$1;
    proxy_temp_path       $PREFIX/tmp/proxy$1;
    fastcgi_temp_path     $PREFIX/tmp/fastcgi$1;
    uwsgi_temp_path       $PREFIX/tmp/uwsgi$1;
    scgi_temp_path        $PREFIX/tmp/scgi$1;

    keepalive_timeout 65;
    fastcgi_read_timeout $NGX_READ_TIMEOUT;

    limit_req_zone \$binary_remote_addr zone=perip:1m rate=5r/s;
    limit_req_status 429;

    server {
        listen 127.0.0.1:$2;
        server_name shop.example;
        root $PREFIX/www;
        index index.php;

        access_log $PREFIX/logs/nginx$1/access.log combined;
        access_log $PREFIX/logs/nginx$1/timing.log timing;
        access_log /dev/stdout timing;

        location = /healthz { access_log off; return 200 "ok\n"; }

        location ~ ^/api/.+\.php\$ {
            $NGX_LIMIT_REQ
            include fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_pass 127.0.0.1:$FPM_API_PORT;
        }

        location ~ \.php\$ {
            $NGX_LIMIT_REQ
            include fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_pass 127.0.0.1:$FPM_PORT;
        }
    }
}
EOF
}
nginx_conf 1 $NGX1_PORT >"$PREFIX/conf/nginx1.conf"
nginx_conf 2 $NGX2_PORT >"$PREFIX/conf/nginx2.conf"

# ---------------------------------------------------------------- haproxy + rsyslog config
cat >"$PREFIX/conf/haproxy.cfg" <<EOF
# generated by samples/lab2/run.sh (scenario $SCENARIO); Debian's haproxy.cfg logs to /dev/log
global
    log $PREFIX/run/log.sock local0
    log stdout format raw local0
    maxconn 2000

defaults
    log     global
    mode    http
    option  httplog
    option  dontlognull
    option  log-health-checks
    timeout connect 5000
    timeout client  50000
    timeout server  50000

frontend fe_shop
    bind 127.0.0.1:$HAP_PORT
    default_backend be_web

backend be_web
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz
    server web0 127.0.0.1:$NGX1_PORT check inter 2s fall 3 rise 2
    server web1 127.0.0.1:$NGX2_PORT check inter 2s fall 3 rise 2
EOF

# Debian's rsyslog.conf uses RSYSLOG_TraditionalFileFormat for files; the haproxy package's
# /etc/rsyslog.d/49-haproxy.conf adds a socket and sends programname haproxy to its own file.
cat >"$PREFIX/conf/rsyslog.conf" <<EOF
# generated by samples/lab2/run.sh: Debian's defaults, in a prefix
global(workDirectory="$PREFIX/rsyslog")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$PREFIX/run/log.sock" RateLimit.Interval="0")
module(load="builtin:omfile" Template="RSYSLOG_TraditionalFileFormat")
if \$programname startswith 'haproxy' then {
    action(type="omfile" file="$PREFIX/logs/haproxy.log")
    stop
}
*.* action(type="omfile" file="$PREFIX/logs/syslog")
EOF

# ---------------------------------------------------------------- container identities
# One "pod" per server in namespace lab2. CRI files: var/log/pods/<ns>_<pod>_<uid>/<container>/
# <restart>.log plus the /var/log/containers/<pod>_<ns>_<container>-<id>.log symlink kubelet
# makes; json-file: var/lib/docker/containers/<id>/<id>-json.log (a docker restart keeps the
# container and its file). Ids are derived from scenario and pod so a rerun names them alike.
hexid() { printf '%s' "$1" | sha256sum | cut -c1-64; }
poduid() { local h; h=$(hexid "uid/$1"); echo "${h:0:8}-${h:8:4}-4${h:13:3}-8${h:17:3}-${h:20:12}"; }
declare -A RESTARTS=()
# capture NAME POD CONTAINER -- CMD...: run CMD under the shim; echoes nothing, sets CAP_PID
capture() {
  local name=$1 pod=$2 ctr=$3; shift 4
  local n=${RESTARTS[$name]:-0}
  local uid cid kid
  uid=$(poduid "$SCENARIO/$pod")
  cid=$(hexid "docker/$SCENARIO/$pod/$ctr")           # one docker container, restarted in place
  kid=$(hexid "cri/$SCENARIO/$pod/$ctr/$n")           # a new CRI container per (re)start
  local podlog=var/log/pods/lab2_${pod}_${uid}/$ctr/$n.log
  mkdir -p "$OUT/var/log/containers" "$OUT/var/lib/docker/containers/$cid"
  ln -sfn "../pods/lab2_${pod}_${uid}/$ctr/$n.log" "$OUT/var/log/containers/${pod}_lab2_${ctr}-${kid}.log"
  RESTARTS[$name]=$((n + 1))
  python3 "$HERE/capture.py" --name "$name" --cri "$OUT/$podlog" \
    --json "$OUT/var/lib/docker/containers/$cid/$cid-json.log" \
    ${CAP_RAW:+--raw "$CAP_RAW"} -- "$@" &
  CAP_PID=$!
}

# ---------------------------------------------------------------- process control
wait_for() { # wait_for URL|tcp:PORT|sock:PATH: bounded (10 s)
  local i
  for i in $(seq 1 100); do
    case $1 in
      http*) curl -fs -o /dev/null -m 1 "$1" && return 0 ;;
      tcp:*) (exec 3<>"/dev/tcp/127.0.0.1/${1#tcp:}") 2>/dev/null && return 0 ;;
      sock:*) [ -S "${1#sock:}" ] && return 0 ;;
    esac
    sleep 0.1
  done
  echo "timed out waiting for $1" >&2; return 1
}
start_rsyslog() {
  /usr/sbin/rsyslogd -n -f "$PREFIX/conf/rsyslog.conf" -i "$PREFIX/run/rsyslogd.pid" &
  RSYSLOG_PID=$!
  wait_for "sock:$PREFIX/run/log.sock"
}
start_fpm() {
  # php-fpm's only log is its stderr (the official image's layout): the shim also keeps the
  # raw bytes as the plain-file view, plain/php-fpm.log (appended across restarts)
  CAP_RAW=$PREFIX/logs capture php-fpm php-fpm-0 php-fpm -- "$FPM_BIN" -F -y "$FPM_CONF" -p "$PREFIX"
  FPM_PID=$CAP_PID
  wait_for "tcp:$FPM_PORT"
}
start_nginx() { # start_nginx 1|2
  local port=$NGX1_PORT
  [ "$1" = 2 ] && port=$NGX2_PORT
  capture "nginx$1" "web-$(($1 - 1))" nginx -- nginx -p "$PREFIX" -c "$PREFIX/conf/nginx$1.conf" -e /dev/stderr -g 'daemon off;'
  eval "NGX$1_PID=$CAP_PID"
  wait_for "http://127.0.0.1:$port/healthz"
}
start_haproxy() {
  capture haproxy haproxy-0 haproxy -- haproxy -db -f "$PREFIX/conf/haproxy.cfg"
  HAP_PID=$CAP_PID
  wait_for "$LB/index.php"
}

# ---------------------------------------------------------------- load
# drive PHASE RATE SECONDS PAR MAXT URL...: open-loop load. Every second, RATE requests
# (cycling through the URLs) go out through xargs -P PAR; each curl is capped at MAXT
# seconds and each batch at MAXT+5 seconds; total SECONDS*RATE requests.
UA=(
  "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
  "curl/7.88.1"
)
drive() {
  local phase=$1 rate=$2 secs=$3 par=$4 maxt=$5; shift 5
  local urls=("$@") s i ua
  for ((s = 0; s < secs; s++)); do
    ua=${UA[s % ${#UA[@]}]}
    for ((i = 0; i < rate; i++)); do
      printf '%s\n' "${urls[(s * rate + i) % ${#urls[@]}]}"
    done | timeout $((maxt + 5)) xargs -P "$par" -n 1 \
        curl -s -o /dev/null -m "$maxt" -A "$ua" -w "$phase %{http_code}\n" >>"$CLIENT_LOG" &
    LOAD_PIDS+=($!)
    sleep 1
  done
}
drain() { # wait for this phase's load batches (each is bounded by timeout)
  local p
  for p in "${LOAD_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  LOAD_PIDS=()
}

# ---------------------------------------------------------------- ground truth
PH_NAME=() PH_START=() PH_END=() PH_STATUS=() PH_CAUSE=()
now() { date -u +%Y-%m-%dT%H:%M:%S.%3N+00:00; }
phase_begin() { PH_NAME+=("$1"); PH_STATUS+=("$2"); PH_CAUSE+=("$3"); PH_START+=("$(now)"); }
phase_end() { PH_END+=("$(now)"); }
observed() { # observed PHASE -> {"200": n, ...}
  awk -v ph="$1" '$1 == ph { c[$2]++ } END { s = ""; for (k in c) s = s sprintf("%s\"%s\": %d", (s == "" ? "" : ", "), k, c[k]); print "{" s "}" }' "$CLIENT_LOG"
}
write_ground_truth() {
  local i cause
  {
    printf '{\n  "scenario": "%s",\n  "lab": "lab2",\n  "timezone": "UTC",\n  "phases": [\n' "$SCENARIO"
    for i in "${!PH_NAME[@]}"; do
      cause=${PH_CAUSE[i]}; [ "$cause" = null ] || cause="\"$cause\""
      printf '    {"name": "%s", "start": "%s", "end": "%s", "expected_status": [%s], "cause": %s, "client_observed_status": %s}%s\n' \
        "${PH_NAME[i]}" "${PH_START[i]}" "${PH_END[i]}" "${PH_STATUS[i]}" "$cause" "$(observed "${PH_NAME[i]}")" \
        "$([ "$i" -lt $((${#PH_NAME[@]} - 1)) ] && echo ,)"
    done
    printf '  ],\n  "top_cause": "%s",\n' "$TOP_CAUSE"
    printf '  "servers": {"nginx": "%s", "php-fpm": "%s", "haproxy": "%s", "rsyslog": "%s"},\n' "$NGX_VER" "$FPM_VER" "$HAP_VER" "$RSYSLOG_VER"
    printf '  "path": "client -> haproxy 127.0.0.1:%s -> nginx web0 127.0.0.1:%s, web1 127.0.0.1:%s -> php-fpm pool www 127.0.0.1:%s (pm ondemand, max_children %s), /api/ pool api 127.0.0.1:%s"\n}\n' \
      $HAP_PORT $NGX1_PORT $NGX2_PORT $FPM_PORT "$FPM_MAX" $FPM_API_PORT
  } >"$OUTDIR/ground_truth.json"
}

# ---------------------------------------------------------------- start the stack
start_rsyslog
start_fpm
start_nginx 1
start_nginx 2
start_haproxy
sleep 3   # let the health checks settle (rise 2 x inter 2s from the start state)

MIX=("$LB/index.php" "$LB/index.php?page=2" "$LB/slow.php?s=0.05" "$LB/api/index.php?v=2" "$LB/index.php?q=shoes")

case $SCENARIO in
  fpm_saturation)
    # pm.max_children = 3 (ondemand): half of the saturation requests take 1.5 s, so 6
    # worker-seconds per second are demanded of 3 workers; the listen queue grows until waits
    # pass fastcgi_read_timeout 3s and nginx answers 504
    TOP_CAUSE=fpm_max_children
    phase_begin baseline 200 null
    drive baseline 4 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin saturation "504, 200" fpm_max_children
    drive saturation 8 20 40 10 "$LB/slow.php?s=1.5" "$LB/index.php" "$LB/slow.php?s=1.5" "$LB/index.php?page=2"; drain
    phase_end ;;

  fpm_down)
    TOP_CAUSE=upstream_refused
    phase_begin baseline 200 null
    drive baseline 6 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin fpm_down 502 upstream_refused
    stop_pid "$FPM_PID" QUIT; FPM_PID=""
    drive fpm_down 6 15 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin recovery 200 null
    start_fpm
    drive recovery 6 10 4 10 "${MIX[@]}"; drain
    phase_end ;;

  upstream_read_timeout)
    # a report page that takes 4 s behind fastcgi_read_timeout 2s; the pool (12 workers) is
    # never full: nginx gives up on each slow request on its own
    TOP_CAUSE=upstream_read_timeout
    phase_begin baseline 200 null
    drive baseline 5 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin slow_reports "200, 504" upstream_read_timeout
    drive slow_reports 5 20 10 10 "$LB/index.php" "$LB/slow.php?s=4&report=daily" "$LB/index.php?page=2" "$LB/index.php?q=shoes" "$LB/slow.php?s=0.05"; drain
    phase_end ;;

  rate_limit)
    # limit_req 5r/s burst 5 nodelay per client address (HAProxy's, for every client), 429
    TOP_CAUSE=rate_limited
    phase_begin baseline 200 null
    drive baseline 4 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin burst "429, 200" rate_limited
    drive burst 20 12 10 10 "$LB/index.php" "$LB/index.php?page=2" "$LB/index.php?q=shoes"; drain
    phase_end
    phase_begin recovery 200 null
    drive recovery 4 8 4 10 "${MIX[@]}"; drain
    phase_end ;;

  lb_backend_down)
    TOP_CAUSE=lb_backend_down
    phase_begin baseline 200 null
    drive baseline 6 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin web1_down "200, 503" lb_backend_down
    stop_pid "$NGX2_PID" TERM; NGX2_PID=""
    drive web1_down 6 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin all_down 503 lb_backend_down
    stop_pid "$NGX1_PID" TERM; NGX1_PID=""
    drive all_down 6 12 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin recovery 200 null
    start_nginx 1; start_nginx 2
    sleep 5   # rise 2 x inter 2s
    drive recovery 6 8 4 10 "${MIX[@]}"; drain
    phase_end ;;

  app_error)
    # a deploy ships checkout.php calling a function that does not exist: PHP Fatal error, 500
    TOP_CAUSE=app_error
    phase_begin baseline 200 null
    drive baseline 5 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin bad_deploy "200, 500" app_error
    drive bad_deploy 5 15 4 10 "$LB/index.php" "$LB/checkout.php?cart=42" "$LB/index.php?page=2" "$LB/api/checkout.php?cart=7" "$LB/slow.php?s=0.05" "$LB/api/index.php"
    for u in "$LB/checkout.php?trace=1" "$LB/api/checkout.php?trace=1"; do
      curl -s -o /dev/null -m 10 -w "bad_deploy %{http_code}\n" "$u" >>"$CLIENT_LOG"
    done
    drain
    phase_end ;;
esac

sleep 1
# ---------------------------------------------------------------- collect
stop_pid "$HAP_PID" USR1; HAP_PID=""
stop_pid "$NGX1_PID" QUIT; NGX1_PID=""
stop_pid "$NGX2_PID" QUIT; NGX2_PID=""
stop_pid "$FPM_PID" QUIT; FPM_PID=""
sleep 0.5
stop_pid "$RSYSLOG_PID"; RSYSLOG_PID=""

rm -rf "$OUTDIR"
mkdir -p "$OUTDIR/plain" "$OUTDIR/conf"
cp -a "$OUT/var" "$OUTDIR/"
cp -a "$PREFIX"/logs/nginx1 "$PREFIX"/logs/nginx2 "$OUTDIR/plain/"
cp "$PREFIX/logs/haproxy.log" "$OUTDIR/plain/haproxy.log"
cp "$PREFIX/logs/php-fpm.stderr.log" "$OUTDIR/plain/php-fpm.log"
[ ! -f "$PREFIX/logs/php/php-error.log" ] || cp "$PREFIX/logs/php/php-error.log" "$OUTDIR/plain/php-error.log"
cp "$PREFIX"/conf/{nginx1.conf,nginx2.conf,php-fpm.conf,haproxy.cfg,rsyslog.conf} "$OUTDIR/conf/"
find "$OUTDIR" -type f -exec chmod 644 {} +
write_ground_truth
echo "== $SCENARIO -> $OUTDIR"
awk '{ c[$1" "$2]++ } END { for (k in c) print "   client", k, c[k] }' "$CLIENT_LOG" | sort
du -sh "$OUTDIR"
find "$OUTDIR" -type f -printf '%8s %P\n' | sort -k2
