#!/usr/bin/env bash
# Builds kiemidi (release preset), runs kiemidi-bench-load --all and the Node and Python reference
# clients on the same scenarios against the same kiemidi-emulator executable, and prints a table
# with ratios (peer / kiemidi). Everything stays on 127.0.0.1.
#
#   benchmarks/compare.sh              full sizes (2,000 pipelines per scenario; 2,000 in flight at once)
#   benchmarks/compare.sh --with-10k   the same, plus kiemidi's 10,000-in-flight scale scenario
#   benchmarks/compare.sh --tiny       small sizes (a minute; checks that everything works)
#
# Needs: cmake + ninja + g++ (kiemidi), node >= 20, python3 with aiohttp (python3-aiohttp).
# CLIENTS="kiemidi node python" (default) selects the clients. JSON lines of every run are kept in
# build/release/bench-results.jsonl (RESULTS=FILE to change; TABLE_ONLY=1 only prints the table of it;
# ONLY=NAME runs one scenario).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tiny=""; with_10k=""
for a in "$@"; do
  case $a in
    --tiny) tiny="--tiny" ;;
    --with-10k) with_10k="scale" ;;  # also kiemidi's 10,000-in-flight run (minutes on a busy machine)
    *) echo "usage: benchmarks/compare.sh [--tiny] [--with-10k]" >&2; exit 2 ;;
  esac
done

cmake --preset release >/dev/null
cmake --build --preset release -j2 --target kiemidi-bench-load kiemidi-emulator
bin=$root/build/release
# Debian's python3 (python3-aiohttp); another interpreter with aiohttp works too.
python=${PYTHON:-/usr/bin/python3}
emulator=$bin/apps/emulator/kiemidi-emulator
results=${RESULTS:-$bin/bench-results.jsonl}
if [[ -z "${TABLE_ONLY:-}" ]]; then
: >"$results"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

clients=${CLIENTS:-"kiemidi node python"}
if [[ " $clients " == *" kiemidi "* ]]; then
  echo "== kiemidi" >&2
  # One process per scenario, as for the peers, so peak RSS and RSS growth are per scenario.
  for name in callback-http callback-https polling-http polling-https callback-latency scale-2k $with_10k; do
    [[ -n "${ONLY:-}" && "$name" != "$ONLY" ]] && continue
    "$bin/benchmarks/kiemidi-bench-load" --all $tiny --scenario "$name" | tee -a "$results" || true
  done
fi

# name pipelines concurrency mode scheme delay_ms  (the same set as kiemidi-bench-load --all)
if [[ -n "$tiny" ]]; then n=40; c=8; sn=100; sc=100; sd=500; else n=2000; c=256; sn=2000; sc=2000; sd=3000; fi
scenarios=(
  "callback-http $n $c callback http 0"
  "callback-https $n $c callback https 0"
  "polling-http $n $c polling http 0"
  "polling-https $n $c polling https 0"
  "scale-2k $sn $sc callback http $sd"
)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

emu_pid=""
stop_emulator() {
  if [[ -n "$emu_pid" ]]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; emu_pid=""; fi
}
trap stop_emulator EXIT

# start_emulator DELAY_MS: a fresh emulator; sets http_url, https_url, ca.
start_emulator() {
  local hp sp log
  hp=$(free_port); sp=$(free_port)
  ca=$(mktemp --suffix=.pem); log=$(mktemp)
  "$emulator" --address 127.0.0.1 --http-port "$hp" --https-port "$sp" --ca-out "$ca" \
    --separation-delay-ms "$1" --midi-delay-ms "$1" >"$log" 2>&1 &
  emu_pid=$!
  for _ in $(seq 100); do grep -q "api key:" "$log" && break; sleep 0.1; done
  grep -q "api key:" "$log" || { echo "kiemidi-emulator did not start: $(cat "$log")" >&2; exit 1; }
  http_url=http://127.0.0.1:$hp; https_url=https://127.0.0.1:$sp
}

for peer in $clients; do
  [[ $peer == kiemidi ]] && continue
  echo "== $peer" >&2
  for s in "${scenarios[@]}"; do
    read -r name pipelines conc mode scheme delay <<<"$s"
    [[ -n "${ONLY:-}" && "$name" != "$ONLY" ]] && continue
    start_emulator "$delay"
    url=$http_url; [[ $scheme == https ]] && url=$https_url
    common=(--base-url "$url" --pipelines "$pipelines" --concurrency "$conc" --mode "$mode" --delay-ms "$delay" --scenario "$name")
    if [[ $peer == node ]]; then
      NODE_EXTRA_CA_CERTS=$ca node "$root/benchmarks/peers/node/pipeline.mjs" "${common[@]}" | tee -a "$results" || true
    else
      "$python" "$root/benchmarks/peers/python/pipeline.py" "${common[@]}" --ca-file "$ca" | tee -a "$results" || true
    fi
    stop_emulator
  done
done

fi  # TABLE_ONLY

python3 - "$results" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
by = {(r['client'], r['scenario']): r for r in rows}
def f(v, d=2): return '-' if v is None else f'{v:.{d}f}'
def ratio(p, k):
    return None if p is None or k in (None, 0) else p / k
print()
print('| scenario | client | ok/failed | pipelines/s | CPU s/1000 | of it kernel | peak RSS MiB | RSS/in-flight KiB (at peak in-flight) | peak RSS growth/in-flight KiB | POSTs/pipe | polls/pipe | conns | CPU ratio | user-space CPU ratio | RSS/in-flight ratio | peak growth ratio | throughput ratio |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
for name in dict.fromkeys(r['scenario'] for r in rows):
    k = by.get(('kiemidi', name))
    for client in ('kiemidi', 'node', 'python'):
        r = by.get((client, name))
        if not r: continue
        req = r.get('requests_per_pipeline', {})
        posts = sum(v for e, v in req.items() if e.startswith('POST'))
        polls = sum(v for e, v in req.items() if 'record-info' in e)
        conns = r.get('emulator_connections_accepted', r.get('connections_opened'))
        cr = ur = rr = gr = tr = None
        sys_cpu = r.get('client_sys_cpu_s_per_1000')
        growth = r.get('peak_rss_growth_per_inflight_kib')
        if k and client != 'kiemidi':
            cr = ratio(r['client_cpu_s_per_1000'], k['client_cpu_s_per_1000'])
            if sys_cpu is not None and k.get('client_sys_cpu_s_per_1000') is not None:
                ur = ratio(r['client_cpu_s_per_1000'] - sys_cpu, k['client_cpu_s_per_1000'] - k['client_sys_cpu_s_per_1000'])
            rr = ratio(r['rss_per_inflight_kib'], k['rss_per_inflight_kib'])
            tr = ratio(r['pipelines_per_s'], k['pipelines_per_s'])
            gr = ratio(growth, k.get('peak_rss_growth_per_inflight_kib'))
        print(f"| {name} | {client} | {r['ok']}/{r['failed']} | {f(r['pipelines_per_s'],0)} | {f(r['client_cpu_s_per_1000'],3)} | {f(sys_cpu,3)} | "
              f"{f(r['peak_rss_kib']/1024,1)} | {f(r['rss_per_inflight_kib'],2)} | {f(growth,2)} | {f(posts)} | {f(polls)} | {conns} | "
              f"{f(cr,1) + '×' if cr else ''} | {f(ur,1) + '×' if ur else ''} | {f(rr,1) + '×' if rr else ''} | {f(gr,1) + '×' if gr else ''} | {f(tr,2) + '×' if tr else ''} |")
lat = by.get(('kiemidi', 'callback-latency'))
if lat:
    print(f"\nkiemidi callback → resume latency: p50 {lat['callback_resume_us_p50']} µs, p99 {lat['callback_resume_us_p99']} µs, "
          f"p99.9 {lat['callback_resume_us_p999']} µs ({lat['callback_resume_samples']} samples)")
EOF
