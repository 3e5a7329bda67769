#!/usr/bin/env bash
# Check that every committed lab sample really holds the log lines it is named for.
#
#   usage: bash samples/lab/verify.sh [SAMPLES_DIR]     (default: the samples/ next to lab/)
#
# Needs only bash, grep/zgrep, gzip, du and wc; runs in seconds. Exit status 1 on any failure.
set -u
export LC_ALL=C

SAMPLES=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SCENARIOS=(baseline fpm_saturation fpm_terminate fpm_down header_too_big rate_limit
           lb_backend_down backlog incident client_subset request_header_too_big
           maintenance lb_health_check_blocked upstream_reset proxy_connections_exhausted
           fpm_oom_kill upstream_unreachable bandwidth_saturated)
# cause ids from SPEC.md "Cause vocabulary"
CAUSES="fpm_max_children upstream_read_timeout upstream_connect_timeout fpm_request_terminate
fpm_worker_crash upstream_refused fpm_listen_backlog upstream_header_too_big no_live_upstreams
rate_limited lb_backend_down lb_target_timeout single_backend app_error overload client_subset
retry_storm self_loop upstream_reset fpm_oom_kill maintenance proxy_connections_exhausted
upstream_unreachable request_header_too_big lb_health_check_blocked bandwidth_saturated unknown"
MAX_DIR_BYTES=2200000      # ~2 MB per scenario
MAX_TREE_BYTES=10500000    # ~10 MB for samples/

FAILS=0 CHECKS=0 D="" S=""
ok()   { CHECKS=$((CHECKS + 1)); }
bad()  { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL [$S] $*"; }

# path of a log in the current scenario dir, plain or gzipped ("" when missing)
logf() { if [ -f "$D/$1" ]; then echo "$D/$1"; elif [ -f "$D/$1.gz" ]; then echo "$D/$1.gz"; fi; }
# count FILE ERE: number of matching lines (0 when the file is missing)
count() { local f; f=$(logf "$1"); [ -n "$f" ] || { echo 0; return; }; zgrep -Ec -- "$2" "$f" || true; }
# has FILE ERE [MIN]: at least MIN (default 1) lines match
has() {
  local n; n=$(count "$1" "$2")
  if [ "$n" -ge "${3:-1}" ]; then ok; else bad "$1: want >= ${3:-1} lines matching /$2/, found $n"; fi
}
# none FILE ERE: no line matches
none() {
  local n; n=$(count "$1" "$2")
  if [ "$n" -eq 0 ]; then ok; else bad "$1: want no line matching /$2/, found $n"; fi
}
# statuses as each layer writes them
NGX_ST() { echo "\" $1 [0-9]+ \""; }                                   # access.log, access_combined.log
HAP_ST() { echo "\] [^ ]+ [^ ]+ -?[0-9]+/-?[0-9]+/-?[0-9]+/-?[0-9]+/\+?[0-9]+ $1 "; }  # haproxy httplog
FPM_ST() { echo "\" $1 /"; }                                            # php-fpm-access.log
# statuses in all three HTTP layers: nginx main_upstream + combined, haproxy
status_everywhere() { has access.log "$(NGX_ST "$1")" "${2:-1}"; has access_combined.log "$(NGX_ST "$1")" "${2:-1}"; has haproxy.log "$(HAP_ST "$1")" "${2:-1}"; }

# a main_upstream line: ... "$request" status bytes "ref" "ua" rt uct uht urt addr ustatus
MAIN_UPSTREAM='^[^ ]+ - [^ ]+ \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \+0000\] "[^"]*" [0-9]{3} [0-9]+ "[^"]*" "[^"]*" [0-9]+\.[0-9]{3} [-0-9., :]+ [^ ]+( [^ ]+)*$'
NGX_ERR='^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9:]{8} \[[a-z]+\] [0-9]+#[0-9]+: '
FPM_ERR='^\[[0-9]{2}-[A-Z][a-z]{2}-[0-9]{4} [0-9:]{8}\] (NOTICE|WARNING|ERROR|ALERT|DEBUG): '
HAP_LINE='^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [^ ]+ haproxy\[[0-9]+\]: [0-9.]+:[0-9]+ \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8}\.[0-9]{3}\] '

common() {
  local f n gt=$D/ground_truth.json c
  for f in access.log access_combined.log error.log php-fpm.log php-fpm-access.log php-fpm-slow.log haproxy.log; do
    [ -n "$(logf $f)" ] && ok || bad "missing $f"
  done
  for f in nginx.conf php-fpm.conf haproxy.cfg; do [ -f "$D/conf/$f" ] && ok || bad "missing conf/$f"; done
  grep -q 'log_format main_upstream' "$D/conf/nginx.conf" 2>/dev/null && ok || bad "conf/nginx.conf lacks log_format main_upstream"
  # shapes of the real lines
  has access.log "$MAIN_UPSTREAM" 10
  has haproxy.log "$HAP_LINE" 10
  has php-fpm.log "$FPM_ERR" 1
  has php-fpm-access.log '^[^ ]+ - [^ ]* +[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \+0000 "[A-Z]+ [^"]*" [0-9]{3} [^ ]+ [0-9.]+ [0-9]+ [0-9.]+%$' 1
  # ground truth
  if [ -f "$gt" ]; then
    ok
    grep -Eq "\"scenario\": *\"$S\"" "$gt" && ok || bad "ground_truth.json: scenario is not \"$S\""
    grep -Eq '"phases": *\[' "$gt" && ok || bad "ground_truth.json: no phases"
    n=$(grep -Ec '"name": *"[^"]+", *"start": *"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+\+00:00", *"end": *"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+\+00:00", *"expected_status": *\[[0-9, ]+\], *"cause": *(null|"[a-z_]+")' "$gt")
    [ "$n" -ge 1 ] && ok || bad "ground_truth.json: no well-formed phase"
    for c in $(grep -Eo '"cause": *"[a-z_]+"' "$gt" | grep -Eo '"[a-z_]+"$' | tr -d '"'); do
      case " $(echo $CAUSES) " in *" $c "*) ok ;; *) bad "ground_truth.json: cause $c is not in SPEC's vocabulary" ;; esac
    done
    for c in nginx php-fpm haproxy; do grep -Eq "\"$c\": *\"[0-9]" "$gt" && ok || bad "ground_truth.json: no $c version"; done
  else
    bad "missing ground_truth.json"
  fi
  # size
  n=$(du -sb "$D" | cut -f1)
  [ "$n" -le $MAX_DIR_BYTES ] && ok || bad "directory is $n bytes (limit $MAX_DIR_BYTES)"
  # anything over 1 MB must be gzipped
  for f in "$D"/*.log; do
    [ -f "$f" ] || continue
    [ "$(wc -c <"$f")" -le 1048576 ] && ok || bad "$(basename "$f") is over 1 MB and not gzipped"
  done
}

# expect_cause CAUSE: ground truth names this cause for some phase
expect_cause() { grep -Eq "\"cause\": *\"$1\"" "$D/ground_truth.json" 2>/dev/null && ok || bad "ground_truth.json: no phase with cause $1"; }

check_baseline() {
  status_everywhere 200 300
  none access.log "$(NGX_ST '5[0-9][0-9]')"
  none haproxy.log "$(HAP_ST '5[0-9][0-9]')"
  has php-fpm-access.log "$(FPM_ST 200)" 100
  none error.log '\[(error|crit|alert|emerg)\]'
}
check_fpm_saturation() {
  expect_cause fpm_max_children
  has php-fpm.log 'WARNING: \[pool www\] server reached pm\.max_children setting \([0-9]+\), consider raising it'
  has php-fpm.log 'executing too slow \([0-9.]+ sec\), logging'
  has php-fpm-slow.log '^script_filename = '
  has error.log "$NGX_ERR"'\*[0-9]+ upstream timed out \(110: Connection timed out\) while reading response header from upstream' 50
  status_everywhere 504 50
  status_everywhere 200 10
}
check_fpm_terminate() {
  expect_cause fpm_request_terminate
  has php-fpm.log "WARNING: \[pool [a-z]+\] child [0-9]+, script '[^']+' \(request: \"GET [^\"]+\"\) execution timed out \([0-9.]+ sec\), terminating" 5
  has php-fpm.log 'WARNING: \[pool [a-z]+\] child [0-9]+ exited on signal 15 \(SIGTERM\) after [0-9.]+ seconds from start'
  has error.log "$NGX_ERR"'\*[0-9]+ (recv\(\) failed \(104: Connection reset by peer\)|upstream prematurely closed (FastCGI stdout|connection)) while reading response header from upstream' 5
  status_everywhere 502 5
}
check_fpm_down() {
  expect_cause upstream_refused
  has php-fpm.log 'NOTICE: exiting, bye-bye!'
  has error.log "$NGX_ERR"'\*[0-9]+ connect\(\) to unix:[^ ]+ failed \(2: No such file or directory\) while connecting to upstream' 5
  has error.log "$NGX_ERR"'\*[0-9]+ connect\(\) failed \(111: Connection refused\) while connecting to upstream' 5
  status_everywhere 502 20
  status_everywhere 200 20
}
check_header_too_big() {
  expect_cause upstream_header_too_big
  has error.log "$NGX_ERR"'\*[0-9]+ upstream sent too big header while reading response header from upstream' 20
  status_everywhere 502 20
  status_everywhere 200 20
}
check_rate_limit() {
  expect_cause rate_limited
  has error.log "$NGX_ERR"'\*[0-9]+ limiting requests, excess: [0-9]+\.[0-9]{3} by zone "perip"' 50
  status_everywhere 503 50
  status_everywhere 200 50
}
check_lb_backend_down() {
  expect_cause lb_backend_down
  has haproxy.log 'haproxy\[[0-9]+\]: Server be_nginx/n[12] is DOWN, reason: Layer4 connection problem' 2
  has haproxy.log 'haproxy\[[0-9]+\]: backend be_nginx has no server available!'
  has haproxy.log 'haproxy\[[0-9]+\]: Server be_nginx/n[12] is UP'
  has haproxy.log 'fe_lab be_nginx/<NOSRV> -?[0-9]+/-?[0-9]+/-?[0-9]+/-?[0-9]+/\+?[0-9]+ 503 [0-9]+ - - SC--' 20
  has haproxy.log "$(HAP_ST 503)" 20
  has haproxy.log "$(HAP_ST 200)" 50
}
check_backlog() {
  expect_cause fpm_listen_backlog
  has error.log "$NGX_ERR"'\*[0-9]+ connect\(\) to unix:[^ ]+ failed \(11: Resource temporarily unavailable\) while connecting to upstream' 20
  status_everywhere 502 20
}
check_incident() {
  expect_cause fpm_max_children
  grep -Eq '"name": *"baseline"' "$D/ground_truth.json" && grep -Eq '"name": *"recovery"' "$D/ground_truth.json" && ok || bad "ground_truth.json: want baseline and recovery phases"
  has access.log "$MAIN_UPSTREAM" 3000
  has php-fpm.log 'WARNING: \[pool www\] server reached pm\.max_children setting \([0-9]+\), consider raising it'
  has error.log "$NGX_ERR"'\*[0-9]+ upstream timed out \(110: Connection timed out\) while reading response header from upstream' 50
  status_everywhere 504 50
  status_everywhere 200 1500
}

check_client_subset() {
  expect_cause client_subset
  grep -q 'geo \$http_x_forwarded_for \$blocked_net' "$D/conf/nginx.conf" && ok || bad "conf/nginx.conf lacks the geo rule"
  local hap='haproxy\[[0-9]+\]: 127\.0\.'
  has haproxy.log "${hap}2\.[0-9]+:[0-9]+ \[[^]]+\] fe_lab be_nginx/n[12] [-0-9/+]+ 503 " 50
  has haproxy.log "${hap}[13]\.[0-9]+:[0-9]+ \[[^]]+\] fe_lab be_nginx/n[12] [-0-9/+]+ 200 " 200
  none haproxy.log "${hap}[13]\.[0-9]+:[0-9]+ \[[^]]+\] fe_lab [^ ]+ [-0-9/+]+ 5[0-9][0-9] "
  status_everywhere 503 50
  none error.log '\[(error|crit|alert|emerg)\]'
}

# nginx main_upstream line for STATUS answered by nginx itself: no upstream contacted
NGX_SELF() { echo "\" $1 [0-9]+ \"[^\"]*\" \"[^\"]*\" [0-9]+\.[0-9]{3} - - - - -\$"; }

check_request_header_too_big() {
  expect_cause request_header_too_big
  has error.log "$NGX_ERR"'\*[0-9]+ client sent too long header line: "cookie: session=abc; tracking=t+' 20
  has access.log "$(NGX_SELF 400)" 20
  has haproxy.log 'fe_lab be_nginx/n[12] [-0-9/+]+ 400 [0-9]+ - - ---- ' 20
  has haproxy.log 'fe_lab fe_lab/<NOSRV> -1/-1/-1/-1/[0-9]+ 400 [0-9]+ - - PR-- .* "<BADREQ>"$' 5
  none php-fpm-access.log "$(FPM_ST 400)"
  status_everywhere 200 50
}
check_maintenance() {
  expect_cause maintenance
  grep -q 'return 503' "$D/conf/maintenance.conf" 2>/dev/null && ok || bad "conf/maintenance.conf lacks return 503"
  has error.log "$NGX_ERR"'signal process started$' 4
  has error.log "$NGX_ERR"'signal 1 \(SIGHUP\) received from [0-9]+, reconfiguring$' 4
  has php-fpm.log 'NOTICE: Reloading in progress' 2
  has access.log "$(NGX_SELF 503)" 50
  has haproxy.log 'fe_lab be_nginx/n[12] [-0-9/+]+ 503 ' 50
  none haproxy.log '<NOSRV>'
  none error.log '\[(error|crit|alert|emerg)\]'
  status_everywhere 200 50
}
check_lb_health_check_blocked() {
  expect_cause lb_health_check_blocked
  has access.log '"GET /health HTTP/1\.0" 403 [0-9]+ "-" "-" ' 10
  has access.log '"GET /health HTTP/1\.0" 200 [0-9]+ "-" "-" ' 10
  none access_combined.log '" 403 [0-9]+ "[^"]*" "[^"-][^"]*"$'   # clients never got the 403
  none access.log "$(NGX_ST '5[0-9][0-9]')"
  has haproxy.log 'Server be_nginx/n[12] is DOWN, reason: Layer7 wrong status, code: 403' 2
  has haproxy.log 'backend be_nginx has no server available!'
  has haproxy.log 'Server be_nginx/n[12] is UP, reason: Layer7 check passed' 2
  has haproxy.log 'fe_lab be_nginx/<NOSRV> [-0-9/+]+ 503 [0-9]+ - - SC--' 20
  has haproxy.log "$(HAP_ST 200)" 50
}
check_upstream_reset() {
  expect_cause upstream_reset
  has error.log "$NGX_ERR"'\*[0-9]+ recv\(\) failed \(104: Connection reset by peer\) while reading response header from upstream, .* upstream: "http://unix:' 5
  has error.log "$NGX_ERR"'\*[0-9]+ upstream prematurely closed connection while reading response header from upstream, .* upstream: "http://unix:' 5
  none php-fpm.log '(WARNING|ERROR|ALERT):'   # no php-fpm line says why
  none php-fpm-access.log "$(FPM_ST '5[0-9][0-9]')"
  status_everywhere 502 20
  status_everywhere 200 50
}
check_proxy_connections_exhausted() {
  expect_cause proxy_connections_exhausted
  has error.log "$NGX_ERR"'[0-9]+ worker_connections are not enough$' 5
  has error.log "$NGX_ERR"'accept4\(\) failed \(24: Too many open files\)$' 1
  has error.log "$NGX_ERR"'\*[0-9]+ socket\(\) failed \(24: Too many open files\) while connecting to upstream' 5
  has haproxy.log 'fe_lab be_nginx/n1 [-0-9/+]+ 502 [0-9]+ - - SH-- ' 5
  has access.log "$(NGX_ST 500)" 5
  has haproxy.log "$(HAP_ST 500)" 5
  status_everywhere 200 50
}
check_fpm_oom_kill() {
  expect_cause fpm_oom_kill
  grep -q '"written_by_lab_not_by_a_server": \["kern.log"\]' "$D/ground_truth.json" && ok || bad "ground_truth.json must say kern.log is written by the lab"
  local kre='^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [^ ]+ kernel: \[ *[0-9]+\.[0-9]{6}\] '
  has kern.log "${kre}"'oom-kill:constraint=CONSTRAINT_NONE,nodemask=\(null\),cpuset=[^,]+,mems_allowed=[0-9,-]+,global_oom,task_memcg=[^,]+,task=php-fpm[^,]*,pid=[0-9]+,uid=[0-9]+$' 3
  has kern.log "${kre}"'Out of memory: Killed process [0-9]+ \(php-fpm[^)]*\) total-vm:[0-9]+kB, anon-rss:[0-9]+kB, file-rss:[0-9]+kB, shmem-rss:[0-9]+kB, UID:[0-9]+ pgtables:[0-9]+kB oom_score_adj:-?[0-9]+$' 3
  has php-fpm.log 'WARNING: \[pool www\] child [0-9]+ exited on signal 9 \(SIGKILL\) after [0-9.]+ seconds from start' 3
  none php-fpm.log 'execution timed out'
  local pid
  for pid in $(grep -Eo 'Killed process [0-9]+' "$D/kern.log" 2>/dev/null | grep -Eo '[0-9]+$'); do
    has php-fpm.log "child $pid exited on signal 9 \(SIGKILL\)"
  done
  has error.log "$NGX_ERR"'\*[0-9]+ (recv\(\) failed \(104: Connection reset by peer\)|upstream prematurely closed (FastCGI stdout|connection)) while reading response header from upstream' 3
  status_everywhere 502 3
  status_everywhere 200 50
}
check_upstream_unreachable() {
  expect_cause upstream_unreachable
  has error.log "$NGX_ERR"'\*[0-9]+ connect\(\) failed \(113: No route to host\) while connecting to upstream' 20
  status_everywhere 502 20
  status_everywhere 200 50
}
check_bandwidth_saturated() {
  expect_cause bandwidth_saturated
  has haproxy.log 'fe_lab be_nginx/<NOSRV> [-0-9/+]+ 503 [0-9]+ - - sQ-- ' 20
  # large responses: under 1.5 s before the ceiling is reached, 5 s and more at it
  has access.log '"GET /big/[^"]*" 200 [0-9]{6,} "[^"]*" "[^"]*" [01]\.[0-9]{3} ' 3
  has access.log '"GET /big/[^"]*" 200 [0-9]{6,} "[^"]*" "[^"]*" ([5-9]|[1-9][0-9])\.[0-9]{3} ' 10
  has haproxy.log "$(HAP_ST 200)" 50
}

for S in "${SCENARIOS[@]}"; do
  D=$SAMPLES/$S
  if [ ! -d "$D" ]; then bad "missing directory $D"; continue; fi
  before=$FAILS
  common
  "check_$S"
  [ "$FAILS" -eq "$before" ] && echo "ok   [$S]"
done
S=samples
n=$(du -sb "$SAMPLES" | cut -f1)
[ "$n" -le $MAX_TREE_BYTES ] && ok || bad "samples tree is $n bytes (limit $MAX_TREE_BYTES)"

echo "$CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
