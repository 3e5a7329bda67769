#!/usr/bin/env bash
# gatelog incident lab: reproduce gateway failures with real HAProxy -> nginx -> php-fpm
# and capture every log the stack writes.
#
#   usage: samples/lab/run.sh SCENARIO OUTDIR
#          samples/lab/run.sh all SAMPLES_DIR      (every scenario into SAMPLES_DIR/<scenario>)
#
# Scenarios: baseline fpm_saturation fpm_terminate fpm_down header_too_big rate_limit
#            lb_backend_down backlog incident client_subset
#
# Runs as root (Debian 12 packages nginx, php8.2-fpm, haproxy, curl; python3 for the tiny
# syslog receiver). Everything listens on 127.0.0.1 only, configs are generated into a
# mktemp prefix (nothing under /etc is touched, no distro service is started), every load
# loop is bounded in count and time, and every process started here is stopped by its PID.
set -euo pipefail

SCENARIOS=(baseline fpm_saturation fpm_terminate fpm_down header_too_big rate_limit
           lb_backend_down backlog incident client_subset)

usage() { echo "usage: $0 SCENARIO OUTDIR   (SCENARIO: ${SCENARIOS[*]} | all)" >&2; exit 2; }
[ $# -eq 2 ] || usage
SCENARIO=$1
OUTDIR=$2

if [ "$SCENARIO" = all ]; then
  for s in "${SCENARIOS[@]}"; do "$0" "$s" "$OUTDIR/$s"; done
  exit 0
fi
case " ${SCENARIOS[*]} " in *" $SCENARIO "*) ;; *) usage ;; esac
[ "$(id -u)" -eq 0 ] || { echo "run as root (nginx/php-fpm drop to www-data)" >&2; exit 1; }

export TZ=UTC LC_ALL=C

# Ports (loopback only)
HAP_PORT=18080 NGX1_PORT=18081 NGX2_PORT=18082 FPM_TCP_PORT=19000 SYSLOG_PORT=15140
LB=http://127.0.0.1:$HAP_PORT

# ---------------------------------------------------------------- packages
ensure_packages() {
  local missing=()
  command -v nginx >/dev/null || missing+=(nginx)
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v curl >/dev/null || missing+=(curl)
  command -v python3 >/dev/null || missing+=(python3)
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

for p in $HAP_PORT $NGX1_PORT $NGX2_PORT $FPM_TCP_PORT $SYSLOG_PORT; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "port $p already in use" >&2; exit 1; fi
done

# ---------------------------------------------------------------- scenario knobs
FPM_PM=dynamic FPM_MAX=10 FPM_START=3 FPM_MIN_SPARE=2 FPM_MAX_SPARE=4
FPM_TCP_MAX=10 FPM_BACKLOG=511 FPM_TERMINATE=0 FPM_SLOWLOG=1s
NGX_CONNECT_TIMEOUT=5s NGX_READ_TIMEOUT=30s NGX_BUFFER=4k NGX_LIMIT_REQ=""
NGX_GEO_HTTP="" NGX_GEO_SERVER="" HAP_FORWARDFOR=""
IFACES=()   # client source addresses (loopback), cycled per request; empty: curl's default
case $SCENARIO in
  fpm_saturation) FPM_MAX=4 FPM_START=2 FPM_MIN_SPARE=1 FPM_MAX_SPARE=2 NGX_READ_TIMEOUT=3s ;;
  fpm_terminate)  FPM_TERMINATE=3s ;;
  header_too_big) NGX_BUFFER=1k ;;
  rate_limit)     NGX_LIMIT_REQ='limit_req zone=perip burst=5 nodelay;' ;;
  backlog)        FPM_PM=static FPM_MAX=1 FPM_TCP_MAX=1 FPM_BACKLOG=1
                  NGX_CONNECT_TIMEOUT=2s NGX_READ_TIMEOUT=20s ;;
  incident)       FPM_MAX=8 FPM_START=3 FPM_MIN_SPARE=2 FPM_MAX_SPARE=4 NGX_READ_TIMEOUT=3s ;;
  client_subset)  # nginx answers 503 to the client networks listed in conf/blocked.conf
                  # (a geo rule on the X-Forwarded-For that HAProxy adds), filled mid-run
                  HAP_FORWARDFOR="option forwardfor"
                  IFACES=(127.0.1.10 127.0.2.10 127.0.3.10 127.0.1.11 127.0.2.11 127.0.3.11) ;;
esac

# ---------------------------------------------------------------- prefix & cleanup
PREFIX=$(mktemp -d /tmp/gatelog-lab.XXXXXX)
chmod 755 "$PREFIX"
mkdir -p "$PREFIX"/{conf,logs,run,tmp,www/static}
chown www-data:www-data "$PREFIX/tmp"
if [ "$SCENARIO" = client_subset ]; then
  : >"$PREFIX/conf/blocked.conf"
  NGX_GEO_HTTP='geo $http_x_forwarded_for $blocked_net { default 0; include '"$PREFIX"'/conf/blocked.conf; }'
  NGX_GEO_SERVER='if ($blocked_net) { return 503; }'
fi
CLIENT_LOG=$PREFIX/client.log    # "phase status" per request, from curl
: >"$CLIENT_LOG"

SYSLOG_PID="" FPM_PID="" NGX1_PID="" NGX2_PID="" HAP_PID=""
LOAD_PIDS=()

stop_pid() { # stop_pid PID [SIG]: signal one process we started and wait (bounded) for it
  local pid=$1 sig=${2:-TERM} i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -s "$sig" "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -s KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local p
  for p in "${LOAD_PIDS[@]}"; do stop_pid "$p"; done
  stop_pid "$HAP_PID" USR1   # soft stop
  stop_pid "$NGX1_PID" QUIT; stop_pid "$NGX2_PID" QUIT
  stop_pid "$FPM_PID" QUIT
  sleep 0.5
  stop_pid "$SYSLOG_PID"
  if [ "${KEEP_PREFIX:-0}" != 1 ]; then rm -rf "$PREFIX"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- content
cat >"$PREFIX/www/index.html" <<'EOF'
<!doctype html><title>lab</title><p>static page</p>
EOF
head -c 2048 /dev/zero | tr '\0' 'x' >"$PREFIX/www/static/app.css"
cat >"$PREFIX/www/index.php" <<'EOF'
<?php
// a cheap page: 5-25 ms of work
usleep(random_int(5000, 25000));
header('Content-Type: text/html');
echo "<p>hello from ", php_sapi_name(), " pid ", getmypid(), "</p>\n";
EOF
cat >"$PREFIX/www/slow.php" <<'EOF'
<?php
// an expensive page: ?s=SECONDS of (simulated) work inside a call stack
function fetch_rows($s) { usleep((int)($s * 1000000)); return []; }
function render_report($s) { return count(fetch_rows($s)); }
$s = isset($_GET['s']) ? (float)$_GET['s'] : 1.0;
render_report(min($s, 30));
echo "report done\n";
EOF
cat >"$PREFIX/www/hdr.php" <<'EOF'
<?php
// a page whose response header outgrew nginx's fastcgi_buffer_size
header('X-Debug-Trace: ' . str_repeat('frame;', 700));
echo "ok\n";
EOF
chmod -R a+rX "$PREFIX/www"

# ---------------------------------------------------------------- php-fpm config
FPM_CONF=$PREFIX/conf/php-fpm.conf
fpm_pool() { # fpm_pool NAME LISTEN MAX_CHILDREN
  cat <<EOF

[$1]
user = www-data
group = www-data
listen = $2
listen.backlog = $FPM_BACKLOG
EOF
  case $2 in
    /*) printf 'listen.owner = www-data\nlisten.group = www-data\nlisten.mode = 0660\n' ;;
    *)  printf 'listen.allowed_clients = 127.0.0.1\n' ;;
  esac
  cat <<EOF
pm = $FPM_PM
pm.max_children = $3
EOF
  if [ "$FPM_PM" = dynamic ]; then
    local start=$FPM_START min=$FPM_MIN_SPARE max=$FPM_MAX_SPARE
    [ "$start" -le "$3" ] || start=$3; [ "$max" -le "$3" ] || max=$3; [ "$min" -le "$max" ] || min=$max
    printf 'pm.start_servers = %s\npm.min_spare_servers = %s\npm.max_spare_servers = %s\n' "$start" "$min" "$max"
  fi
  cat <<EOF
request_terminate_timeout = $FPM_TERMINATE
request_slowlog_timeout = $FPM_SLOWLOG
slowlog = $PREFIX/logs/php-fpm-slow.log
access.log = $PREFIX/logs/php-fpm-access.log
access.format = "%R - %u %t \"%m %r%Q%q\" %s %f %{mili}d %{kilo}M %C%%"
catch_workers_output = yes
EOF
}
{
  cat <<EOF
; generated by samples/lab/run.sh (scenario $SCENARIO)
[global]
pid = $PREFIX/run/php-fpm.pid
error_log = $PREFIX/logs/php-fpm.log
log_level = notice
daemonize = no
EOF
  fpm_pool www "$PREFIX/run/php-fpm-www.sock" "$FPM_MAX"
  fpm_pool tcp "127.0.0.1:$FPM_TCP_PORT" "$FPM_TCP_MAX"
} >"$FPM_CONF"

# ---------------------------------------------------------------- nginx config
cp /etc/nginx/fastcgi_params "$PREFIX/conf/fastcgi_params"
nginx_conf() { # nginx_conf ID PORT
  cat <<EOF
# generated by samples/lab/run.sh (scenario $SCENARIO), backend $1
user www-data;
worker_processes 1;
pid $PREFIX/run/nginx$1.pid;
error_log $PREFIX/logs/error.log warn;

events { worker_connections 1024; }

http {
    default_type text/plain;
    types { text/html html; text/css css; }

    log_format main_upstream '\$remote_addr - \$remote_user [\$time_local] "\$request" '
                             '\$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" '
                             '\$request_time \$upstream_connect_time \$upstream_header_time \$upstream_response_time '
                             '\$upstream_addr \$upstream_status';
    access_log $PREFIX/logs/access.log main_upstream;
    access_log $PREFIX/logs/access_combined.log combined;

    client_body_temp_path $PREFIX/tmp/client_body;
    proxy_temp_path       $PREFIX/tmp/proxy;
    fastcgi_temp_path     $PREFIX/tmp/fastcgi;
    uwsgi_temp_path       $PREFIX/tmp/uwsgi;
    scgi_temp_path        $PREFIX/tmp/scgi;

    keepalive_timeout 15s;
    fastcgi_connect_timeout $NGX_CONNECT_TIMEOUT;
    fastcgi_read_timeout    $NGX_READ_TIMEOUT;
    fastcgi_buffer_size     $NGX_BUFFER;

    limit_req_zone \$binary_remote_addr zone=perip:1m rate=10r/s;
    $NGX_GEO_HTTP

    server {
        listen 127.0.0.1:$2;
        server_name lab.local;
        root $PREFIX/www;
        index index.html;

        $NGX_GEO_SERVER
        location = /health { return 200 "ok\n"; }

        location ~ ^/tcp/(.+\.php)\$ {
            $NGX_LIMIT_REQ
            include fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root/\$1;
            fastcgi_pass 127.0.0.1:$FPM_TCP_PORT;
        }

        location ~ \.php\$ {
            $NGX_LIMIT_REQ
            include fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_pass unix:$PREFIX/run/php-fpm-www.sock;
        }
    }
}
EOF
}
nginx_conf 1 $NGX1_PORT >"$PREFIX/conf/nginx.conf"
nginx_conf 2 $NGX2_PORT >"$PREFIX/conf/nginx2.conf"

# ---------------------------------------------------------------- haproxy config
cat >"$PREFIX/conf/haproxy.cfg" <<EOF
# generated by samples/lab/run.sh (scenario $SCENARIO)
global
    log 127.0.0.1:$SYSLOG_PORT len 4096 local0
    log-send-hostname lab
    maxconn 4000

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 2s
    timeout client  30s
    timeout server  30s
    retries 2
    $HAP_FORWARDFOR

frontend fe_lab
    bind 127.0.0.1:$HAP_PORT
    default_backend be_nginx

backend be_nginx
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    server n1 127.0.0.1:$NGX1_PORT check inter 1s fall 2 rise 2
    server n2 127.0.0.1:$NGX2_PORT check inter 1s fall 2 rise 2
EOF

# syslog receiver: one line per datagram, PRI stripped, as rsyslog would write the file
cat >"$PREFIX/run/syslog.py" <<'EOF'
import re, socket, sys, time
port, path, limit = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
s.settimeout(0.5)
deadline = time.time() + limit
with open(path, "ab", buffering=0) as f:
    while time.time() < deadline:
        try:
            d, _ = s.recvfrom(65535)
        except socket.timeout:
            continue
        f.write(re.sub(rb"^<\d+>", b"", d).rstrip(b"\r\n") + b"\n")
EOF

# ---------------------------------------------------------------- process control
wait_for() { # wait_for URL_OR_PATH: bounded (10 s)
  local i
  for i in $(seq 1 100); do
    case $1 in
      http*) curl -fs -o /dev/null -m 1 "$1" && return 0 ;;
      *) [ -S "$1" ] && return 0 ;;
    esac
    sleep 0.1
  done
  echo "timed out waiting for $1" >&2; return 1
}
start_syslog() {
  python3 "$PREFIX/run/syslog.py" $SYSLOG_PORT "$PREFIX/logs/haproxy.log" 900 &
  SYSLOG_PID=$!
}
start_fpm() {
  "$FPM_BIN" -F -y "$FPM_CONF" -p "$PREFIX" &
  FPM_PID=$!
  wait_for "$PREFIX/run/php-fpm-www.sock"
}
start_nginx() { # start_nginx 1|2
  local conf=$PREFIX/conf/nginx.conf port=$NGX1_PORT
  [ "$1" = 2 ] && conf=$PREFIX/conf/nginx2.conf port=$NGX2_PORT
  nginx -p "$PREFIX" -c "$conf" -e "$PREFIX/logs/error.log" -g 'daemon off;' &
  eval "NGX$1_PID=$!"
  wait_for "http://127.0.0.1:$port/health"
}
start_haproxy() {
  haproxy -db -f "$PREFIX/conf/haproxy.cfg" &
  HAP_PID=$!
  wait_for "$LB/health"
}

# ---------------------------------------------------------------- load
# drive PHASE RATE SECONDS PAR MAXT URL...: open-loop load. Every second, RATE requests
# (cycling through the URLs) go out through xargs -P PAR; each curl is capped at MAXT
# seconds and each batch at MAXT+5 seconds; total SECONDS*RATE requests.
UA=(
  "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
  "curl/7.88.1"
)
drive() {
  local phase=$1 rate=$2 secs=$3 par=$4 maxt=$5; shift 5
  local urls=("$@") s i ua n=1
  [ ${#IFACES[@]} -eq 0 ] || n=3   # --interface ADDR URL
  for ((s = 0; s < secs; s++)); do
    ua=${UA[s % ${#UA[@]}]}
    for ((i = 0; i < rate; i++)); do
      if [ $n = 3 ]; then printf -- '--interface\n%s\n' "${IFACES[(s * rate + i) % ${#IFACES[@]}]}"; fi
      printf '%s\n' "${urls[(s * rate + i) % ${#urls[@]}]}"
    done | timeout $((maxt + 5)) xargs -P "$par" -n $n \
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
    printf '{\n  "scenario": "%s",\n  "timezone": "UTC",\n  "phases": [\n' "$SCENARIO"
    for i in "${!PH_NAME[@]}"; do
      cause=${PH_CAUSE[i]}; [ "$cause" = null ] || cause="\"$cause\""
      printf '    {"name": "%s", "start": "%s", "end": "%s", "expected_status": [%s], "cause": %s, "client_observed_status": %s}%s\n' \
        "${PH_NAME[i]}" "${PH_START[i]}" "${PH_END[i]}" "${PH_STATUS[i]}" "$cause" "$(observed "${PH_NAME[i]}")" \
        "$([ "$i" -lt $((${#PH_NAME[@]} - 1)) ] && echo ,)"
    done
    printf '  ],\n  "servers": {"nginx": "%s", "php-fpm": "%s", "haproxy": "%s"},\n' "$NGX_VER" "$FPM_VER" "$HAP_VER"
    printf '  "path": "client -> haproxy 127.0.0.1:%s -> nginx n1 127.0.0.1:%s, n2 127.0.0.1:%s -> php-fpm pool www unix:%s, pool tcp 127.0.0.1:%s"\n}\n' \
      $HAP_PORT $NGX1_PORT $NGX2_PORT "$PREFIX/run/php-fpm-www.sock" $FPM_TCP_PORT
  } >"$OUTDIR/ground_truth.json"
}

# ---------------------------------------------------------------- start the stack
start_syslog
start_fpm
start_nginx 1
start_nginx 2
start_haproxy
sleep 2   # let the health checks settle

MIX=("$LB/index.php" "$LB/" "$LB/tcp/index.php" "$LB/index.php?page=2" "$LB/static/app.css" "$LB/index.php?q=lab")

case $SCENARIO in
  baseline)
    phase_begin baseline 200 null
    drive baseline 20 30 8 10 "${MIX[@]}"; drain
    phase_end ;;

  fpm_saturation)
    phase_begin baseline 200 null
    drive baseline 4 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin saturation 504 fpm_max_children
    drive saturation 12 25 40 10 "$LB/slow.php?s=1.5" "$LB/index.php" "$LB/slow.php?s=1.5" "$LB/index.php?page=2"; drain
    phase_end ;;

  fpm_terminate)
    phase_begin baseline 200 null
    drive baseline 6 8 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin terminate "502, 200" fpm_request_terminate
    drive terminate 4 22 20 15 "$LB/slow.php?s=6" "$LB/index.php" "$LB/slow.php?s=8" "$LB/tcp/slow.php?s=6"; drain
    phase_end ;;

  fpm_down)
    phase_begin baseline 200 null
    drive baseline 8 10 4 10 "$LB/index.php" "$LB/tcp/index.php"; drain
    phase_end
    phase_begin fpm_down 502 upstream_refused
    stop_pid "$FPM_PID" TERM; FPM_PID=""
    drive fpm_down 8 15 4 10 "$LB/index.php" "$LB/tcp/index.php"; drain
    phase_end
    phase_begin recovery 200 null
    start_fpm
    drive recovery 8 10 4 10 "$LB/index.php" "$LB/tcp/index.php"; drain
    phase_end ;;

  header_too_big)
    phase_begin baseline 200 null
    drive baseline 8 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin big_header "502, 200" upstream_header_too_big
    drive big_header 8 20 4 10 "$LB/hdr.php" "$LB/hdr.php?page=2" "$LB/index.php" "$LB/tcp/hdr.php"; drain
    phase_end ;;

  rate_limit)
    phase_begin baseline 200 null
    drive baseline 6 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin burst "503, 200" rate_limited
    drive burst 60 20 16 10 "$LB/index.php" "$LB/tcp/index.php" "$LB/index.php?page=2"; drain
    phase_end
    phase_begin recovery 200 null
    drive recovery 6 8 4 10 "${MIX[@]}"; drain
    phase_end ;;

  lb_backend_down)
    phase_begin baseline 200 null
    drive baseline 10 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin n2_down "200, 503" lb_backend_down
    stop_pid "$NGX2_PID" TERM; NGX2_PID=""
    drive n2_down 10 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin all_down 503 lb_backend_down
    stop_pid "$NGX1_PID" TERM; NGX1_PID=""
    drive all_down 10 12 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin recovery 200 null
    start_nginx 1; start_nginx 2
    sleep 3   # rise 2 x inter 1s
    drive recovery 10 8 4 10 "${MIX[@]}"; drain
    phase_end ;;

  backlog)
    phase_begin baseline 200 null
    drive baseline 2 8 2 10 "$LB/index.php" "$LB/tcp/index.php"; drain
    phase_end
    phase_begin burst "502, 504" fpm_listen_backlog
    drive burst 40 15 40 15 "$LB/slow.php?s=2" "$LB/tcp/slow.php?s=2"; drain
    phase_end ;;

  incident)
    # open-loop load; during "saturation" a fifth of the requests hit a 1.1 s report, which
    # needs ~11.8 worker-seconds per second against pm.max_children = 8: the listen queue
    # grows, waits pass fastcgi_read_timeout (3 s) and nginx answers 504. When the load mix
    # returns to normal, the queued backlog still has to drain ("drain"), then "recovery".
    phase_begin baseline 200 null
    drive baseline 50 20 10 10 "${MIX[@]}"; drain
    phase_end
    SLOWMIX=("$LB/index.php" "$LB/slow.php?s=1.1&report=daily" "$LB/index.php?page=2" "$LB/" "$LB/tcp/index.php"
             "$LB/index.php?q=lab" "$LB/slow.php?s=1.1&report=weekly" "$LB/static/app.css" "$LB/index.php" "$LB/index.php?page=3")
    phase_begin saturation "504, 200" fpm_max_children
    drive saturation 50 25 60 12 "${SLOWMIX[@]}"
    phase_end
    phase_begin drain "504, 200" fpm_max_children
    drive drain 50 15 10 10 "${MIX[@]}"
    phase_end
    phase_begin recovery 200 null
    drive recovery 50 20 10 10 "${MIX[@]}"; drain
    phase_end ;;

  client_subset)
    # clients from 127.0.1.0/24, 127.0.2.0/24 and 127.0.3.0/24; mid-run a rule starts to
    # refuse 127.0.2.0/24 with 503 (as a WAF or geo block would) while the others are served
    phase_begin baseline 200 null
    drive baseline 12 15 6 10 "${MIX[@]}"; drain
    phase_end
    phase_begin blocked "503, 200" client_subset
    echo '127.0.2.0/24 1;' >"$PREFIX/conf/blocked.conf"
    kill -HUP "$NGX1_PID" "$NGX2_PID"; sleep 1   # reload: the rule applies
    drive blocked 12 20 6 10 "${MIX[@]}"; drain
    phase_end
    phase_begin recovery 200 null
    : >"$PREFIX/conf/blocked.conf"
    kill -HUP "$NGX1_PID" "$NGX2_PID"; sleep 1
    drive recovery 12 10 6 10 "${MIX[@]}"; drain
    phase_end ;;
esac

sleep 1
# ---------------------------------------------------------------- collect
stop_pid "$HAP_PID" USR1; HAP_PID=""
stop_pid "$NGX1_PID" QUIT; NGX1_PID=""
stop_pid "$NGX2_PID" QUIT; NGX2_PID=""
stop_pid "$FPM_PID" QUIT; FPM_PID=""
sleep 0.5
stop_pid "$SYSLOG_PID"; SYSLOG_PID=""

rm -rf "$OUTDIR"
mkdir -p "$OUTDIR/conf"
cp "$PREFIX"/logs/* "$OUTDIR/"
chmod 644 "$OUTDIR"/*.log
cp "$PREFIX"/conf/{nginx.conf,nginx2.conf,php-fpm.conf,haproxy.cfg} "$OUTDIR/conf/"
[ ! -f "$PREFIX/conf/blocked.conf" ] || echo '127.0.2.0/24 1;   # during the "blocked" phase only' >"$OUTDIR/conf/blocked.conf"
write_ground_truth
for f in "$OUTDIR"/*.log; do   # keep the directory small: gzip the big logs
  if [ "$(stat -c %s "$f")" -gt 500000 ]; then gzip -9 -n "$f"; fi
done
echo "== $SCENARIO -> $OUTDIR"
awk '{ c[$1" "$2]++ } END { for (k in c) print "   client", k, c[k] }' "$CLIENT_LOG" | sort
ls -l "$OUTDIR"
