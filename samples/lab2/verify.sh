#!/usr/bin/env bash
# Check that every committed lab2 sample holds the log lines it is named for, in each of its
# three views (plain files, CRI files under var/log/pods, Docker json-file files under
# var/lib/docker/containers), and that the container files have the shape containerd and
# moby write.
#
#   usage: bash samples/lab2/verify.sh [LAB2_DIR]     (default: the directory of this script)
#
# Needs only bash, grep, sha256sum, du and wc; runs in about a second. Exit status 1 on any failure.
set -u
export LC_ALL=C

LAB2=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
SCENARIOS=(fpm_saturation fpm_down upstream_read_timeout rate_limit lb_backend_down app_error)
CAUSES="fpm_max_children upstream_read_timeout upstream_connect_timeout fpm_request_terminate
fpm_worker_crash upstream_refused fpm_listen_backlog upstream_header_too_big no_live_upstreams
rate_limited lb_backend_down lb_target_timeout single_backend app_error overload client_subset
retry_storm self_loop upstream_reset fpm_oom_kill maintenance proxy_connections_exhausted
upstream_unreachable request_header_too_big lb_health_check_blocked bandwidth_saturated unknown"
MAX_DIR_BYTES=1048576   # < 1 MB per scenario

FAILS=0 CHECKS=0 D="" S=""
ok()  { CHECKS=$((CHECKS + 1)); }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL [$S] $*"; }

hexid() { printf '%s' "$1" | sha256sum | cut -c1-64; }
# files of one container: its CRI files (every restart) and its json-file
cri_files() { ls "$D"/var/log/pods/lab2_"$1"_*/"$2"/*.log 2>/dev/null; }
json_file() { local id; id=$(hexid "docker/$S/$1/$2"); echo "$D/var/lib/docker/containers/$id/$id-json.log"; }
# count ERE FILE...: matching lines over the files (0 when none exist)
count() {
  local re=$1 n=0 f c; shift
  for f in "$@"; do [ -f "$f" ] || continue; c=$(grep -Ec -- "$re" "$f"); n=$((n + c)); done
  echo $n
}
atleast() { # atleast WHAT MIN ERE FILE...
  local what=$1 min=$2 re=$3 n; shift 3
  n=$(count "$re" "$@")
  if [ "$n" -ge "$min" ]; then ok; else bad "$what: want >= $min lines matching /$re/, found $n"; fi
}
nomatch() { # nomatch WHAT ERE FILE...
  local what=$1 re=$2 n; shift 2
  n=$(count "$re" "$@")
  if [ "$n" -eq 0 ]; then ok; else bad "$what: want no line matching /$re/, found $n"; fi
}
# in3 PLAINFILES POD CTR MIN ERE: the same lines in the plain view, the CRI view and the json view
# (ERE must not contain " < > & which json-file escapes)
in3() {
  local plain=$1 pod=$2 ctr=$3 min=$4 re=$5 f
  # shellcheck disable=SC2086
  atleast "plain ${plain//$D\//}" "$min" "$re" $plain
  # shellcheck disable=SC2046
  atleast "cri $pod/$ctr" "$min" "$re" $(cri_files "$pod" "$ctr")
  atleast "json-file $pod/$ctr" "$min" "$re" "$(json_file "$pod" "$ctr")"
}
NGX_PLAIN() { echo "$D/plain/nginx1/$1 $D/plain/nginx2/$1"; }
# an HTTP status in each layer, in all three views
#   timing/combined: ..."GET / HTTP/1.1" 504 ...  (json-file escapes the quote: HTTP/1.1\" 504)
#   haproxy: ... fe_shop be_web/web0 0/0/0/-1/3001 504 ...
status3() { # status3 STATUS MIN [hap-only]
  local st=$1 min=$2
  in3 "$D/plain/haproxy.log" haproxy-0 haproxy "$min" "fe_shop be_web/[^ ]+ [-0-9/+]+ $st "
  [ "${3:-}" = hap-only ] && return
  in3 "$(NGX_PLAIN timing.log)" web-0 nginx 1 "HTTP/1\.[01]\\\\?\" $st [0-9]+ "
  in3 "$(NGX_PLAIN timing.log)" web-1 nginx 1 "HTTP/1\.[01]\\\\?\" $st [0-9]+ "
  atleast "plain nginx access.log (combined)" "$min" "HTTP/1\.[01]\" $st [0-9]+ " $(NGX_PLAIN access.log)
}
# every line of a file matches ERE
all_lines() { # all_lines WHAT ERE FILE
  local n m
  n=$(grep -c '' "$3"); m=$(grep -Ec -- "$2" "$3")
  if [ "$n" -gt 0 ] && [ "$n" -eq "$m" ]; then ok; else bad "$1: $m of $n lines match /$2/"; fi
}
same() { if [ "$2" -eq "$3" ]; then ok; else bad "$1: $2 != $3"; fi; }

CRI_LINE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,8}[1-9])?Z (stdout|stderr) [PF] '
JSON_LINE='^\{"log":"([^"\\]|\\["\\nrt]|\\u[0-9a-f]{4})*","stream":"(stdout|stderr)","time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,8}[1-9])?Z"\}$'
SYSLOG_LINE='^[A-Z][a-z]{2} [ 1-3][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [^ ]+ haproxy\[[0-9]+\]: '
TIMING_LINE='^[^ ]+ - [^ ]+ \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \+0000\] "[^"]*" [0-9]{3} [0-9]+ "[^"]*" "[^"]*" rt=[0-9]+\.[0-9]{3} uct="[^"]*" uht="[^"]*" urt="[^"]*" ua="[^"]*" us="[^"]*" rid=[0-9a-f]{32}$'
FPM_ACCESS='^[0-9.]+ \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \+0000\] "[A-Z]+ [^"]*" [0-9]{3} [0-9]+\.[0-9]{3} ms [0-9]+ KB [0-9.]+% pool=(www|api) pid=[0-9]+$'
NGX_ERR='[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9:]{8} \[[a-z]+\] [0-9]+#[0-9]+: '

common() {
  local f gt=$D/ground_truth.json c pod ctr n m cf jf
  for f in plain/haproxy.log plain/php-fpm.log plain/nginx1/access.log plain/nginx1/timing.log \
           plain/nginx1/error.log plain/nginx2/access.log plain/nginx2/timing.log plain/nginx2/error.log \
           conf/nginx1.conf conf/nginx2.conf conf/php-fpm.conf conf/haproxy.cfg conf/rsyslog.conf; do
    [ -f "$D/$f" ] && ok || bad "missing $f"
  done
  # the plain views' shapes
  all_lines "plain/haproxy.log (rsyslog traditional format, no year)" "$SYSLOG_LINE" "$D/plain/haproxy.log"
  atleast "plain/haproxy.log" 1 'haproxy\[[0-9]+\]: Health check for server be_web/web[01] (succeeded|failed)' "$D/plain/haproxy.log"
  all_lines "plain/nginx1/timing.log" "$TIMING_LINE" "$D/plain/nginx1/timing.log"
  atleast "plain/php-fpm.log (custom access.format)" 10 "$FPM_ACCESS" "$D/plain/php-fpm.log"
  atleast "plain/php-fpm.log (master log)" 1 '^\[[0-9]{2}-[A-Z][a-z]{2}-[0-9]{4} [0-9:]{8}\] NOTICE: fpm is running, pid [0-9]+$' "$D/plain/php-fpm.log"
  grep -q 'pm = ondemand' "$D/conf/php-fpm.conf" 2>/dev/null && ok || bad "conf/php-fpm.conf is not pm = ondemand"
  # the container views: every record well formed, and the same lines as the streams
  for pod in haproxy-0/haproxy web-0/nginx web-1/nginx php-fpm-0/php-fpm; do
    ctr=${pod#*/} pod=${pod%/*}
    cf=$(cri_files "$pod" "$ctr"); jf=$(json_file "$pod" "$ctr")
    [ -n "$cf" ] && ok || { bad "no CRI file for $pod/$ctr"; continue; }
    [ -f "$jf" ] && ok || { bad "no json-file for $pod/$ctr ($jf)"; continue; }
    for f in $cf; do all_lines "${f#$D/}" "$CRI_LINE" "$f"; done
    all_lines "${jf#$D/}" "$JSON_LINE" "$jf"
    ls "$D"/var/log/containers/"${pod}_lab2_${ctr}"-*.log >/dev/null 2>&1 && [ -f "$(ls "$D"/var/log/containers/"${pod}_lab2_${ctr}"-*.log | head -1)" ] \
      && ok || bad "var/log/containers has no symlink for $pod/$ctr that resolves"
    # whole lines: F records (CRI) == json pieces ending in \n == lines the server wrote
    for stream in stdout stderr; do
      # shellcheck disable=SC2086
      n=$(count "^[^ ]+ $stream F " $cf)
      m=$(count "\\\\n\",\"stream\":\"$stream\"" "$jf")
      same "$pod/$ctr $stream: CRI F records vs json-file lines" "$n" "$m"
    done
  done
  # nginx: the stdout stream is the timing log, record for record
  same "web-0 stdout vs plain/nginx1/timing.log" "$(count '^[^ ]+ stdout F ' $(cri_files web-0 nginx))" "$(grep -c '' "$D/plain/nginx1/timing.log")"
  same "web-1 stdout vs plain/nginx2/timing.log" "$(count '^[^ ]+ stdout F ' $(cri_files web-1 nginx))" "$(grep -c '' "$D/plain/nginx2/timing.log")"
  # php-fpm: the plain file is its stderr
  same "php-fpm-0 stderr vs plain/php-fpm.log" "$(count '^[^ ]+ stderr F ' $(cri_files php-fpm-0 php-fpm))" "$(grep -c '' "$D/plain/php-fpm.log")"
  # the stdout of HAProxy (format raw) has no syslog prefix
  atleast "cri haproxy-0 (log stdout format raw)" 10 '^[^ ]+ stdout F [0-9.]+:[0-9]+ \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:.]{12}\] fe_shop ' $(cri_files haproxy-0 haproxy)
  # ground truth
  if [ -f "$gt" ]; then
    ok
    grep -Eq "\"scenario\": *\"$S\"" "$gt" && ok || bad "ground_truth.json: scenario is not \"$S\""
    n=$(grep -Ec '"name": *"[^"]+", *"start": *"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+\+00:00", *"end": *"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+\+00:00", *"expected_status": *\[[0-9, ]+\], *"cause": *(null|"[a-z_]+")' "$gt")
    [ "$n" -ge 2 ] && ok || bad "ground_truth.json: want >= 2 well-formed phases"
    for c in $(grep -Eo '"(cause|top_cause)": *"[a-z_]+"' "$gt" | grep -Eo '"[a-z_]+"$' | tr -d '"'); do
      case " $(echo $CAUSES) " in *" $c "*) ok ;; *) bad "ground_truth.json: cause $c is not in SPEC's vocabulary" ;; esac
    done
    grep -Eq "\"top_cause\": *\"[a-z_]+\"" "$gt" && ok || bad "ground_truth.json: no top_cause"
  else
    bad "missing ground_truth.json"
  fi
  n=$(du -sb "$D" | cut -f1)
  [ "$n" -le $MAX_DIR_BYTES ] && ok || bad "directory is $n bytes (limit $MAX_DIR_BYTES)"
}

check_fpm_saturation() {
  in3 "$D/plain/php-fpm.log" php-fpm-0 php-fpm 1 'WARNING: \[pool www\] server reached max_children setting \(3\), consider raising it'
  in3 "$(NGX_PLAIN error.log)" web-0 nginx 5 "$NGX_ERR"'\*[0-9]+ upstream timed out \(110: Connection timed out\) while reading response header from upstream'
  in3 "$(NGX_PLAIN error.log)" web-1 nginx 5 "$NGX_ERR"'\*[0-9]+ upstream timed out \(110: Connection timed out\) while reading response header from upstream'
  status3 504 20
  status3 200 20
}
check_fpm_down() {
  in3 "$D/plain/php-fpm.log" php-fpm-0 php-fpm 1 '\] NOTICE: exiting, bye-bye!'
  in3 "$D/plain/php-fpm.log" php-fpm-0 php-fpm 2 '\] NOTICE: fpm is running, pid [0-9]+'
  [ "$(cri_files php-fpm-0 php-fpm | wc -l)" -eq 2 ] && ok || bad "php-fpm-0: want 0.log and 1.log (a restart)"
  in3 "$(NGX_PLAIN error.log)" web-0 nginx 5 "$NGX_ERR"'\*[0-9]+ connect\(\) failed \(111: Connection refused\) while connecting to upstream'
  in3 "$(NGX_PLAIN error.log)" web-1 nginx 5 "$NGX_ERR"'\*[0-9]+ connect\(\) failed \(111: Connection refused\) while connecting to upstream'
  status3 502 20
  status3 200 20
}
check_upstream_read_timeout() {
  in3 "$(NGX_PLAIN error.log)" web-0 nginx 3 "$NGX_ERR"'\*[0-9]+ upstream timed out \(110: Connection timed out\) while reading response header from upstream'
  in3 "$(NGX_PLAIN error.log)" web-1 nginx 3 "$NGX_ERR"'\*[0-9]+ upstream timed out \(110: Connection timed out\) while reading response header from upstream'
  nomatch "plain/php-fpm.log" 'max_children' "$D/plain/php-fpm.log"
  atleast "plain timing.log: 504 at rt=2.0xx" 5 '" 504 [0-9]+ .* rt=2\.0[0-9]{2} ' $(NGX_PLAIN timing.log)
  status3 504 10
  status3 200 20
}
check_rate_limit() {
  in3 "$(NGX_PLAIN error.log)" web-0 nginx 10 "$NGX_ERR"'\*[0-9]+ limiting requests, excess: [0-9]+\.[0-9]{3} by zone'
  in3 "$(NGX_PLAIN error.log)" web-1 nginx 10 "$NGX_ERR"'\*[0-9]+ limiting requests, excess: [0-9]+\.[0-9]{3} by zone'
  status3 429 30
  status3 200 30
}
check_lb_backend_down() {
  local hap="$D/plain/haproxy.log"
  in3 "$hap" haproxy-0 haproxy 1 'Health check for server be_web/web[01] failed, reason: Layer4 connection problem'
  in3 "$hap" haproxy-0 haproxy 2 'Server be_web/web[01] is DOWN\. [0-9] active and 0 backup servers left'
  in3 "$hap" haproxy-0 haproxy 1 'backend be_web has no server available!'
  in3 "$hap" haproxy-0 haproxy 1 'Server be_web/web[01] is UP'
  in3 "$hap" haproxy-0 haproxy 10 'fe_shop be_web/(<|\\u003c)NOSRV(>|\\u003e) [-0-9/+]+ 503 [0-9]+ - - SC--'
  status3 503 10 hap-only
  status3 200 30 hap-only
}
check_app_error() {
  in3 "$D/plain/php-fpm.log" php-fpm-0 php-fpm 5 '^(.* stderr F |\{"log":")?NOTICE: PHP message: PHP Fatal error:  Uncaught Error: Call to undefined function compute_cart_total\(\)'
  atleast "plain/php-error.log" 5 '^\[[0-9]{2}-[A-Z][a-z]{2}-[0-9]{4} [0-9:]{8} UTC\] PHP Fatal error:  Uncaught Error: Call to undefined function compute_cart_total\(\)' "$D/plain/php-error.log"
  in3 "$(NGX_PLAIN error.log)" web-0 nginx 2 "$NGX_ERR"'\*[0-9]+ FastCGI sent in stderr: \\?"PHP message: PHP Fatal error:  Uncaught Error: Call to undefined function'
  # the ~20 KB PHP error line: cut into 16 KiB pieces by both runtimes
  atleast "cri php-fpm-0: a P record of 16384 bytes" 1 '^[^ ]+ stderr P .{16384}$' $(cri_files php-fpm-0 php-fpm)
  atleast "json-file php-fpm-0: a piece without \\n" 1 '^\{"log":"NOTICE: PHP message: PHP Fatal error:  Uncaught RuntimeException: query failed: .*[^n]","stream"' "$(json_file php-fpm-0 php-fpm)"
  status3 500 10
  status3 200 20
}

for S in "${SCENARIOS[@]}"; do
  D=$LAB2/$S
  if [ ! -d "$D" ]; then bad "missing directory $D"; continue; fi
  before=$FAILS
  common
  "check_$S"
  [ "$FAILS" -eq "$before" ] && echo "ok   [lab2/$S]"
done

echo "$CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
