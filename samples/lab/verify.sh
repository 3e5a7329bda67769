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
           lb_backend_down backlog incident client_subset)
# cause ids from SPEC.md "Cause vocabulary"
CAUSES="fpm_max_children upstream_read_timeout upstream_connect_timeout fpm_request_terminate
fpm_worker_crash upstream_refused fpm_listen_backlog upstream_header_too_big no_live_upstreams
rate_limited lb_backend_down lb_target_timeout single_backend app_error overload client_subset
retry_storm self_loop unknown"
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
