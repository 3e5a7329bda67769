#!/usr/bin/env bash
# gatelog incident lab: reproduce gateway failures with real HAProxy -> nginx -> php-fpm
# and capture every log the stack writes.
#
#   usage: samples/lab/run.sh SCENARIO OUTDIR
#          samples/lab/run.sh all SAMPLES_DIR      (every scenario into SAMPLES_DIR/<scenario>)
#
# Scenarios: baseline fpm_saturation fpm_terminate fpm_down header_too_big rate_limit
#            lb_backend_down backlog incident client_subset request_header_too_big
#            maintenance lb_health_check_blocked upstream_reset proxy_connections_exhausted
#            fpm_oom_kill upstream_unreachable bandwidth_saturated
#
# Runs as root (Debian 12 packages nginx, php8.2-fpm, haproxy, curl; python3 for the tiny
# syslog receiver and the small HTTP backend of upstream_reset, upstream_unreachable and
# bandwidth_saturated; iproute2 + iptables for the network namespace of the last two). Everything listens on 127.0.0.1 only, configs are generated into a
# mktemp prefix (nothing under /etc is touched, no distro service is started), every load
# loop is bounded in count and time, and every process started here is stopped by its PID.
set -euo pipefail

SCENARIOS=(baseline fpm_saturation fpm_terminate fpm_down header_too_big rate_limit
           lb_backend_down backlog incident client_subset request_header_too_big
           maintenance lb_health_check_blocked upstream_reset proxy_connections_exhausted
           fpm_oom_kill upstream_unreachable bandwidth_saturated)

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
NGX_ERR_LEVEL=warn NGX_CONNS=(1024 1024) NGX_RLIMIT=("" "")   # per backend n1, n2
NGX_SERVER_INC="" NGX_LOC_INC="" NGX_STATIC_LOC="" NGX_API_LOC="" HAP_SERVER_OPTS="" HAP_BACKEND_OPTS=""
IFACES=()   # client source addresses (loopback), cycled per request; empty: curl's default
HDRS=()     # request headers (curl -H ARG), cycled per request; empty: none added
# upstream_unreachable, bandwidth_saturated: a /30 of TEST-NET-2 (RFC 5737), only inside our veth pair
NETNS=gatelog-lab1 NS_HOST_IP=198.51.100.1 NS_APP_IP=198.51.100.2
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
  request_header_too_big)  # clients with a ~10 KB Cookie line (over nginx's 8k
                  # large_client_header_buffers) and a few with ~20 KB (over HAProxy's 16k bufsize);
                  # nginx logs the rejection at level info
                  NGX_ERR_LEVEL=info ;;
  maintenance)    # conf/maintenance.conf (included in every location but /health) gets
                  # "return 503" for the maintenance window; nginx and php-fpm are reloaded around it
                  NGX_ERR_LEVEL=notice
                  NGX_LOC_INC=maintenance ;;
  lb_health_check_blocked)  # conf/security.conf (server level) gets a "no User-Agent -> 403"
                  # rule mid-run: HAProxy's httpchk sends none, browsers and curl do
                  NGX_SERVER_INC=security ;;
  upstream_reset) # /api/ is proxied to a small python HTTP backend on a unix socket that,
                  # during the "reset" phase, drops each connection mid-request
                  NGX_API_LOC=unix ;;
  proxy_connections_exhausted)  # n1: worker_connections 16; n2: worker_rlimit_nofile 24
                  FPM_MAX=40 FPM_START=10 FPM_MIN_SPARE=5 FPM_MAX_SPARE=20
                  NGX_CONNS=(16 512) NGX_RLIMIT=("" "worker_rlimit_nofile 24;") ;;
  fpm_oom_kill)   # /mem.php holds ~48 MB for 1.5 s; during "oom" the lab SIGKILLs the
                  # largest worker every second, as the kernel's OOM killer picks the biggest RSS
                  # (slowlog at 3s: the 1.5 s report is not what this scenario is about)
                  FPM_MAX=12 FPM_SLOWLOG=3s ;;
  upstream_unreachable)  # /api/ is proxied to the python backend at $NS_APP_IP in a network
                  # namespace made here; a REJECT --reject-with icmp-host-unreachable rule in it
                  # during the "unreachable" phase
                  NGX_API_LOC=netns ;;
  bandwidth_saturated)   # /api/ and /big/ proxied to the python backend in the namespace;
                  # its veth sends through tc tbf 8mbit; HAProxy servers maxconn 12, timeout queue 3s
                  NGX_API_LOC=netns
                  HAP_SERVER_OPTS="maxconn 12" HAP_BACKEND_OPTS="timeout queue 3s" ;;
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
# include files the scenario rewrites mid-run (empty: the rule is off)
if [ -n "$NGX_LOC_INC" ]; then
  : >"$PREFIX/conf/$NGX_LOC_INC.conf"; NGX_LOC_INC="include $PREFIX/conf/$NGX_LOC_INC.conf;"
  NGX_STATIC_LOC="location / { $NGX_LOC_INC }"
fi
if [ -n "$NGX_SERVER_INC" ]; then
  : >"$PREFIX/conf/$NGX_SERVER_INC.conf"; NGX_SERVER_INC="include $PREFIX/conf/$NGX_SERVER_INC.conf;"
fi
case $NGX_API_LOC in
  unix)  NGX_API_LOC="location /api/ { proxy_pass http://unix:$PREFIX/run/app.sock:; }" ;;
  netns) NGX_API_LOC="location /api/ { proxy_pass http://$NS_APP_IP:8080; }
        location /big/ { proxy_pass http://$NS_APP_IP:8080; }
        proxy_connect_timeout 3s;
        proxy_read_timeout 5s;" ;;
esac
CLIENT_LOG=$PREFIX/client.log    # "phase status" per request, from curl
: >"$CLIENT_LOG"

SYSLOG_PID="" FPM_PID="" NGX1_PID="" NGX2_PID="" HAP_PID="" APP_PID="" NETNS_MADE=""
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
  stop_pid "$APP_PID"
  sleep 0.5
  stop_pid "$SYSLOG_PID"
  if [ -n "$NETNS_MADE" ]; then   # the namespace we made (its veth pair goes with it)
    ip netns del "$NETNS" 2>/dev/null || true
  fi
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
cat >"$PREFIX/www/mem.php" <<'EOF'
<?php
// a report that loads a big result set into memory: ~48 MB held for 1.5 s
$rows = str_repeat('r', 48 * 1024 * 1024);
usleep(1500000);
echo "rows ", strlen($rows), "\n";
EOF
chmod -R a+rX "$PREFIX/www"
# request headers for request_header_too_big (curl -H @FILE)
printf 'Cookie: session=%s\n' "$(head -c 24 /dev/zero | tr '\0' 'a')" >"$PREFIX/run/cookie-small.hdr"
printf 'Cookie: session=abc; tracking=%s\n' "$(head -c 10000 /dev/zero | tr '\0' 't')" >"$PREFIX/run/cookie-10k.hdr"
printf 'Cookie: session=abc; tracking=%s\n' "$(head -c 20000 /dev/zero | tr '\0' 't')" >"$PREFIX/run/cookie-20k.hdr"

# the small HTTP backend behind /api/ and /big/ (upstream_reset, upstream_unreachable,
# bandwidth_saturated): answers "api ok" or N KB of body; while the file run/drop exists it
# drops every connection mid-request (odd ones without reading the request: a reset; even
# ones after reading it: a close before any response byte). Stops itself after LIMIT s.
cat >"$PREFIX/run/backend.py" <<'EOF'
import os, socket, socketserver, sys, threading, time
where, limit, dropflag = sys.argv[1], float(sys.argv[2]), sys.argv[3]
n = [0]
lock = threading.Lock()
class H(socketserver.BaseRequestHandler):
    def handle(self):
        c = self.request
        with lock:
            n[0] += 1
            k = n[0]
        if os.path.exists(dropflag):
            time.sleep(0.05)
            if k % 2:
                c.recv(16)  # the rest of the request stays unread: close() resets
            else:
                self.read_head(c)
            return
        head = self.read_head(c)
        path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"/"
        if path.startswith(b"/big/"):
            size = int(path[5:].split(b"?")[0] or b"64") * 1024
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n" % size)
            chunk = b"b" * 16384
            while size > 0:
                c.sendall(chunk[:size]); size -= 16384
        else:
            body = b"api ok\n"
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                      b"Connection: close\r\n\r\n%s" % (len(body), body))
    def read_head(self, c):
        buf = b""
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            d = c.recv(4096)
            if not d:
                break
            buf += d
        return buf
if where.startswith("/"):
    class S(socketserver.ThreadingUnixStreamServer):
        daemon_threads = True
    if os.path.exists(where):
        os.unlink(where)
    srv = S(where, H)
    os.chmod(where, 0o666)
else:
    class S(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 128
    host, port = where.rsplit(":", 1)
    srv = S((host, int(port)), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
time.sleep(limit)
srv.shutdown()
EOF

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
error_log $PREFIX/logs/error.log $NGX_ERR_LEVEL;
${NGX_RLIMIT[$1 - 1]}
events { worker_connections ${NGX_CONNS[$1 - 1]}; }

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
        $NGX_SERVER_INC
        location = /health { return 200 "ok\n"; }
        $NGX_STATIC_LOC
        $NGX_API_LOC

        location ~ ^/tcp/(.+\.php)\$ {
            $NGX_LIMIT_REQ
            $NGX_LOC_INC
            include fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root/\$1;
            fastcgi_pass 127.0.0.1:$FPM_TCP_PORT;
        }

        location ~ \.php\$ {
            $NGX_LIMIT_REQ
            $NGX_LOC_INC
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
    $HAP_BACKEND_OPTS
    server n1 127.0.0.1:$NGX1_PORT check inter 1s fall 2 rise 2 $HAP_SERVER_OPTS
    server n2 127.0.0.1:$NGX2_PORT check inter 1s fall 2 rise 2 $HAP_SERVER_OPTS
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
start_backend() { # the python backend: on a unix socket, or in the network namespace
  if [ "$1" = unix ]; then
    python3 "$PREFIX/run/backend.py" "$PREFIX/run/app.sock" 600 "$PREFIX/run/drop" &
    APP_PID=$!
    wait_for "$PREFIX/run/app.sock"
  else
    ip netns exec "$NETNS" python3 "$PREFIX/run/backend.py" "$NS_APP_IP:8080" 600 "$PREFIX/run/drop" &
    APP_PID=$!
    wait_for "http://$NS_APP_IP:8080/api/ready"
  fi
}
make_netns() { # a namespace of our own holding the backend address, linked by a veth pair
  if ip netns list | grep -qw "$NETNS"; then echo "network namespace $NETNS already exists" >&2; exit 1; fi
  # the /30 must be unused on this machine: no address or route of the host may fall in it
  if ip -o addr | grep -q " ${NS_HOST_IP%.*}\." || ip route | grep -q "^${NS_HOST_IP%.*}\."; then
    echo "${NS_HOST_IP%.*}.0/24 is already in use on this machine; change NS_HOST_IP/NS_APP_IP" >&2; exit 1
  fi
  ip netns add "$NETNS"; NETNS_MADE=1
  ip link add gl1-host type veth peer name gl1-app netns "$NETNS"
  ip addr add "$NS_HOST_IP/30" dev gl1-host; ip link set gl1-host up
  ip netns exec "$NETNS" ip addr add "$NS_APP_IP/30" dev gl1-app
  ip netns exec "$NETNS" ip link set gl1-app up
  ip netns exec "$NETNS" ip link set lo up
  # answer every rejected SYN (the default rate limit, 1 ICMP error per second per
  # destination, turns most rejections into connect timeouts instead)
  ip netns exec "$NETNS" sysctl -qw net.ipv4.icmp_ratelimit=0
}
start_haproxy() {
  haproxy -db -f "$PREFIX/conf/haproxy.cfg" &
  HAP_PID=$!
  wait_for "$LB/health"
}

ngx_reload() { # nginx -s reload, as an operator would, for both backends
  nginx -p "$PREFIX" -c "$PREFIX/conf/nginx.conf" -e "$PREFIX/logs/error.log" -s reload
  nginx -p "$PREFIX" -c "$PREFIX/conf/nginx2.conf" -e "$PREFIX/logs/error.log" -s reload
}
fpm_reload() { # php-fpm graceful reload (SIGUSR2: the master re-executes itself, same PID)
  kill -USR2 "$FPM_PID"
  sleep 1; wait_for "$PREFIX/run/php-fpm-www.sock"
}
# oom_kill_largest: what the kernel's OOM killer does when it picks php-fpm: SIGKILL to the
# worker with the largest RSS. The kernel is not out of memory here, so the lab writes the
# two lines mm/oom_kill.c would print (dump_oom_summary, then __oom_kill_process's pr_err)
# into logs/kern.log, rsyslog style, from the victim's real /proc figures at that moment.
oom_kill_largest() {
  local pid rss st vm anon file shmem pte uid adj comm cg up sec usec stamp
  read -r pid rss < <(ps -o pid=,rss= --ppid "$FPM_PID" | sort -k2 -n | tail -1) || return 0
  [ -n "$pid" ] && [ -r "/proc/$pid/status" ] || return 0
  st=$(cat "/proc/$pid/status") || return 0
  vm=$(awk '/^VmSize:/ { print $2 }' <<<"$st"); anon=$(awk '/^RssAnon:/ { print $2 }' <<<"$st")
  file=$(awk '/^RssFile:/ { print $2 }' <<<"$st"); shmem=$(awk '/^RssShmem:/ { print $2 }' <<<"$st")
  pte=$(awk '/^VmPTE:/ { print $2 }' <<<"$st"); uid=$(awk '/^Uid:/ { print $2 }' <<<"$st")
  adj=$(cat "/proc/$pid/oom_score_adj"); comm=$(cat "/proc/$pid/comm")
  cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup"); [ -n "$cg" ] || cg=/
  up=$(python3 -c 'import time; print("%.6f" % time.clock_gettime(time.CLOCK_MONOTONIC))')   # printk's clock
  kill -KILL "$pid" 2>/dev/null || return 0
  stamp=$(date '+%b %e %H:%M:%S')
  sec=${up%.*} usec=$((10#${up#*.}))
  printf '%s lab kernel: [%5d.%06d] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=%s,task=%s,pid=%d,uid=%d\n' \
    "$stamp" "$sec" "$usec" "$cg" "$comm" "$pid" "$uid" >>"$PREFIX/logs/kern.log"
  printf '%s lab kernel: [%5d.%06d] Out of memory: Killed process %d (%s) total-vm:%skB, anon-rss:%skB, file-rss:%skB, shmem-rss:%skB, UID:%d pgtables:%skB oom_score_adj:%s\n' \
    "$stamp" "$sec" "$usec" "$pid" "$comm" "$vm" "$anon" "$file" "$shmem" "$uid" "$pte" "$adj" >>"$PREFIX/logs/kern.log"
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
  [ ${#HDRS[@]} -eq 0 ] || n=3     # -H HEADER URL
  for ((s = 0; s < secs; s++)); do
    ua=${UA[s % ${#UA[@]}]}
    for ((i = 0; i < rate; i++)); do
      if [ ${#IFACES[@]} -gt 0 ]; then printf -- '--interface\n%s\n' "${IFACES[(s * rate + i) % ${#IFACES[@]}]}"; fi
      if [ ${#HDRS[@]} -gt 0 ]; then printf -- '-H\n%s\n' "${HDRS[(s * rate + i) % ${#HDRS[@]}]}"; fi
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
    [ -z "$GT_NOTE" ] || printf '  "note": "%s",\n' "$GT_NOTE"
    [ -z "$GT_LAB_WRITTEN" ] || printf '  "written_by_lab_not_by_a_server": ["%s"],\n' "$GT_LAB_WRITTEN"
    printf '  "path": "client -> haproxy 127.0.0.1:%s -> nginx n1 127.0.0.1:%s, n2 127.0.0.1:%s -> php-fpm pool www unix:%s, pool tcp 127.0.0.1:%s"\n}\n' \
      $HAP_PORT $NGX1_PORT $NGX2_PORT "$PREFIX/run/php-fpm-www.sock" $FPM_TCP_PORT
  } >"$OUTDIR/ground_truth.json"
}

# ---------------------------------------------------------------- ground-truth notes
GT_NOTE="" GT_LAB_WRITTEN=""
case $SCENARIO in
  request_header_too_big) GT_NOTE="clients sent a Cookie line of ~10 KB (nginx large_client_header_buffers 4 8k: 400, logged at info as 'client sent too long header line') or ~20 KB (over HAProxy's 16 KB buffer: HAProxy 400 <BADREQ> PR--, nginx never sees it)" ;;
  maintenance) GT_NOTE="nginx -s reload into 'return 503' in every location but /health (HAProxy keeps both servers UP), php-fpm reloaded (SIGUSR2) inside the window and again before nginx -s reload back; load throughout" ;;
  lb_health_check_blocked) GT_NOTE="a server-level nginx rule (conf/security.conf) answers requests without a User-Agent with 403: it answers HAProxy's httpchk (no User-Agent) while clients with a User-Agent are served; HAProxy marks both servers DOWN and answers 503 <NOSRV>" ;;
  upstream_reset) GT_NOTE="/api/ is proxied (proxy_pass) to a python HTTP backend on unix:run/app.sock, which during 'reset' closes every connection before answering (with the request unread: 104 reset; after reading it: upstream prematurely closed); php-fpm is not involved" ;;
  proxy_connections_exhausted) GT_NOTE="n1 worker_connections 16 (502 via HAProxy SH--), n2 worker_rlimit_nofile 24 (socket()/open()/accept4() EMFILE, 500); 30 req/s of 1 s pages during 'surge'" ;;
  fpm_oom_kill) GT_NOTE="every second of the 'oom' phase the lab sent SIGKILL to the php-fpm worker with the largest RSS (as the kernel OOM killer picks); kern.log holds the two lines mm/oom_kill.c prints for such a kill (dump_oom_summary, __oom_kill_process), written by the lab from the victim's /proc values at that moment, same pid and time"
                GT_LAB_WRITTEN="kern.log" ;;
  upstream_unreachable) GT_NOTE="/api/ is proxied to a python backend at $NS_APP_IP:8080 in a network namespace made by the lab; during 'unreachable' an iptables REJECT --reject-with icmp-host-unreachable rule in that namespace (ICMP rate limit off there)" ;;
  bandwidth_saturated) GT_NOTE="/api/ and /big/ (256-512 KB) are proxied to a python backend at $NS_APP_IP:8080 in a network namespace whose link sends through tc tbf rate 8mbit; HAProxy servers maxconn 12 with timeout queue 3s: queue timeouts give 503 sQ--" ;;
esac

# ---------------------------------------------------------------- start the stack
case $SCENARIO in
  upstream_reset) start_backend unix ;;
  upstream_unreachable) make_netns; start_backend netns ;;
  bandwidth_saturated)
    make_netns
    # the backend's side of the link: 8 Mbit/s token bucket (inside our namespace only)
    ip netns exec "$NETNS" tc qdisc add dev gl1-app root tbf rate 8mbit burst 32kb latency 200ms
    start_backend netns ;;
esac
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

  request_header_too_big)
    # most clients of the second phase carry a tracking cookie that outgrew the header buffers
    HDRS=("@$PREFIX/run/cookie-small.hdr")
    phase_begin baseline 200 null
    drive baseline 8 10 4 10 "${MIX[@]}"; drain
    phase_end
    HDRS=("@$PREFIX/run/cookie-10k.hdr" "@$PREFIX/run/cookie-small.hdr" "@$PREFIX/run/cookie-10k.hdr"
          "@$PREFIX/run/cookie-20k.hdr" "@$PREFIX/run/cookie-10k.hdr")
    phase_begin big_cookie "400, 200" request_header_too_big
    drive big_cookie 8 20 4 10 "${MIX[@]}"; drain
    phase_end ;;

  maintenance)
    # load throughout; nginx reloaded into "return 503" everywhere but /health, php-fpm
    # reloaded during the window (a deploy), then php-fpm and nginx reloaded back
    phase_begin baseline 200 null
    drive baseline 10 10 4 10 "${MIX[@]}"
    phase_end
    phase_begin maintenance 503 maintenance
    echo 'return 503;' >"$PREFIX/conf/maintenance.conf"
    ngx_reload
    drive maintenance 10 5 4 10 "${MIX[@]}"
    fpm_reload
    drive maintenance 10 9 4 10 "${MIX[@]}"
    phase_end
    phase_begin recovery 200 null
    fpm_reload
    : >"$PREFIX/conf/maintenance.conf"
    ngx_reload
    drive recovery 10 10 4 10 "${MIX[@]}"; drain
    phase_end ;;

  lb_health_check_blocked)
    # a "block empty User-Agent" rule (as security software adds) also answers HAProxy's
    # health checks, which send none: 403, both servers DOWN, <NOSRV> 503 for every client
    phase_begin baseline 200 null
    drive baseline 10 10 4 10 "${MIX[@]}"
    phase_end
    phase_begin blocked "503, 200" lb_health_check_blocked
    echo 'if ($http_user_agent = "") { return 403; }' >"$PREFIX/conf/security.conf"
    ngx_reload
    drive blocked 10 15 4 10 "${MIX[@]}"
    phase_end
    phase_begin recovery "200, 503" null
    : >"$PREFIX/conf/security.conf"
    ngx_reload
    drive recovery 10 12 4 10 "${MIX[@]}"; drain
    phase_end ;;

  upstream_reset)
    API=("$LB/api/orders" "$LB/index.php" "$LB/api/cart?id=7" "$LB/" "$LB/api/orders?page=2" "$LB/tcp/index.php")
    phase_begin baseline 200 null
    drive baseline 8 10 4 10 "${API[@]}"; drain
    phase_end
    phase_begin reset "502, 200" upstream_reset
    touch "$PREFIX/run/drop"
    drive reset 8 20 4 10 "${API[@]}"; drain
    rm -f "$PREFIX/run/drop"
    phase_end
    phase_begin recovery 200 null
    drive recovery 8 8 4 10 "${API[@]}"; drain
    phase_end ;;

  proxy_connections_exhausted)
    phase_begin baseline 200 null
    drive baseline 4 10 4 10 "${MIX[@]}"; drain
    phase_end
    phase_begin surge "200, 500, 502" proxy_connections_exhausted
    drive surge 30 15 60 10 "$LB/slow.php?s=1" "$LB/index.php" "$LB/slow.php?s=1&r=2" "$LB/static/app.css"; drain
    phase_end ;;

  fpm_oom_kill)
    OOM=("$LB/index.php" "$LB/mem.php" "$LB/" "$LB/index.php?page=2" "$LB/mem.php?report=monthly" "$LB/tcp/index.php")
    phase_begin baseline 200 null
    drive baseline 6 10 6 10 "${OOM[@]}"; drain
    phase_end
    phase_begin oom "502, 200" fpm_oom_kill
    ( for k in $(seq 1 19); do sleep 1; oom_kill_largest; done ) &
    KILLER_PID=$!
    drive oom 8 20 12 10 "${OOM[@]}"
    wait "$KILLER_PID" 2>/dev/null || true
    drain
    phase_end
    phase_begin recovery 200 null
    drive recovery 6 8 6 10 "${OOM[@]}"; drain
    phase_end ;;

  upstream_unreachable)
    API=("$LB/api/orders" "$LB/index.php" "$LB/api/cart?id=7" "$LB/" "$LB/api/orders?page=2" "$LB/static/app.css")
    REJECT=(INPUT -p tcp --dport 8080 -j REJECT --reject-with icmp-host-unreachable)
    phase_begin baseline 200 null
    drive baseline 8 10 4 10 "${API[@]}"; drain
    phase_end
    phase_begin unreachable "502, 200" upstream_unreachable
    ip netns exec "$NETNS" iptables -I "${REJECT[@]}"   # a firewall change in front of the backend
    drive unreachable 8 20 4 10 "${API[@]}"; drain
    ip netns exec "$NETNS" iptables -D "${REJECT[@]}"
    phase_end
    phase_begin recovery 200 null
    drive recovery 8 8 4 10 "${API[@]}"; drain
    phase_end ;;

  bandwidth_saturated)
    # the backend's link is an 8 Mbit/s token bucket (1 MB/s); downloads of 256-512 KB
    BW=("$LB/api/orders" "$LB/big/256" "$LB/index.php" "$LB/big/512?f=export" "$LB/static/app.css" "$LB/big/384")
    phase_begin baseline 200 null
    drive baseline 3 12 6 20 "${BW[@]}"; drain
    phase_end
    phase_begin saturated "200, 503" bandwidth_saturated
    drive saturated 12 25 60 20 "${BW[@]}"; drain
    phase_end ;;
esac

sleep 1
# ---------------------------------------------------------------- collect
stop_pid "$HAP_PID" USR1; HAP_PID=""
stop_pid "$NGX1_PID" QUIT; NGX1_PID=""
stop_pid "$NGX2_PID" QUIT; NGX2_PID=""
stop_pid "$FPM_PID" QUIT; FPM_PID=""
stop_pid "$APP_PID"; APP_PID=""
sleep 0.5
stop_pid "$SYSLOG_PID"; SYSLOG_PID=""

rm -rf "$OUTDIR"
mkdir -p "$OUTDIR/conf"
cp "$PREFIX"/logs/* "$OUTDIR/"
chmod 644 "$OUTDIR"/*.log
cp "$PREFIX"/conf/{nginx.conf,nginx2.conf,php-fpm.conf,haproxy.cfg} "$OUTDIR/conf/"
for f in maintenance security; do   # the rule as it was during the scenario's failure phase
  [ ! -f "$PREFIX/conf/$f.conf" ] || case $f in
    maintenance) echo 'return 503;   # during the "maintenance" phase only' >"$OUTDIR/conf/$f.conf" ;;
    security) echo 'if ($http_user_agent = "") { return 403; }   # during the "blocked" phase only' >"$OUTDIR/conf/$f.conf" ;;
  esac
done
[ ! -f "$PREFIX/conf/blocked.conf" ] || echo '127.0.2.0/24 1;   # during the "blocked" phase only' >"$OUTDIR/conf/blocked.conf"
write_ground_truth
for f in "$OUTDIR"/*.log; do   # keep the directory small: gzip the big logs
  if [ "$(stat -c %s "$f")" -gt 500000 ]; then gzip -9 -n "$f"; fi
done
echo "== $SCENARIO -> $OUTDIR"
awk '{ c[$1" "$2]++ } END { for (k in c) print "   client", k, c[k] }' "$CLIENT_LOG" | sort
ls -l "$OUTDIR"
