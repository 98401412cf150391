#!/bin/bash
# Usage: panther_extract.py; panther_build.py strict|enriched; BIN=path/to/okta-ingest panther_score.sh strict|enriched
# Runs each case through `okta-ingest rules test` (managed rules) and scores it: for the 18
# standard event types, for the types the hook receives with extended coverage (the 18 plus
# EXTENDED_ONLY, read from src/okta/coverage.rs), and for all cases.
here=$(cd "$(dirname "$0")/../../.." && pwd)
BIN=${BIN:-$here/target/debug/okta-ingest}
mode=$1
python3 - "$mode" "$BIN" "$here/src/okta/coverage.rs" <<'PY'
import json, os, re, subprocess, sys
mode, binary, coverage = sys.argv[1:4]
src = open(coverage).read()
def consts(name):
    body = re.search(name + r"[^=]*=\s*\[(.*?)\];", src, re.S).group(1)
    return set(re.findall(r'"([^"]+)"', re.sub(r"//[^\n]*", "", body)))
EIGHTEEN, EXTENDED_ONLY = consts("EVENT_TYPES: "), consts("EXTENDED_ONLY")
assert len(EIGHTEEN) == 18 and len(EXTENDED_ONLY) == 25, (len(EIGHTEEN), len(EXTENDED_ONLY))
HOOK = EIGHTEEN | EXTENDED_ONLY
idx = json.load(open(os.path.join(os.environ.get('PANTHER_WORK', '/tmp/panther'), mode, 'index.json')))
hit18 = n18 = hitx = nx = hit = 0
for c in idx:
    last = [json.loads(l) for l in open(c['file'])][-1]
    t = last['eventType']
    in18, inx = t in EIGHTEEN, t in HOOK
    r = subprocess.run([binary, 'rules', 'test', '--events', c['file']], capture_output=True, text=True)
    if r.returncode != 0: print("ERR", c['file'], r.stderr[:300]); continue
    rules = sorted({json.loads(l)['rule'] + ':' + json.loads(l)['priority'] for l in r.stdout.splitlines() if l.strip()})
    found = bool(rules)
    n18 += in18; hit18 += in18 and found; nx += inx; hitx += inx and found; hit += found
    where = 'in18' if in18 else 'ext ' if inx else '    '
    print('HIT ' if found else 'MISS', where, c['rule'], '|', c['name'], '|', t, '|', ', '.join(rules)[:200])
pct = lambda a, b: f"{100 * a / b:.0f}%" if b else "-"
print(f"{mode}: 18-type positives detected {hit18}/{n18} ({pct(hit18, n18)}); "
      f"hook-receivable (18 + extended) {hitx}/{nx} ({pct(hitx, nx)}); all positives {hit}/{len(idx)}")
PY
