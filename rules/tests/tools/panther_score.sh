#!/bin/bash
# Usage: panther_extract.py; panther_build.py strict|enriched; BIN=path/to/okta-ingest panther_score.sh strict|enriched
# Runs each case through `okta-ingest rules test` (managed rules) and scores it.
BIN=${BIN:-/work/main/target/debug/okta-ingest}
mode=$1
python3 - "$mode" "$BIN" <<'PY'
import json, os, subprocess, sys
mode, binary = sys.argv[1], sys.argv[2]
EIGHTEEN=set("""application.user_membership.add group.user_membership.add system.api_token.create system.org.rate_limit.violation user.account.lock user.account.privilege.grant user.account.reset_password user.account.update_password user.authentication.auth_via_mfa user.authentication.sso user.lifecycle.activate user.lifecycle.create user.lifecycle.deactivate user.lifecycle.suspend user.lifecycle.unsuspend user.mfa.factor.deactivate user.mfa.factor.reset_all user.session.start""".split())
idx = json.load(open(os.path.join(os.environ.get('PANTHER_WORK', '/tmp/panther'), mode, 'index.json')))
hit18 = n18 = hit = 0
for c in idx:
    last = [json.loads(l) for l in open(c['file'])][-1]
    in18 = last['eventType'] in EIGHTEEN
    r = subprocess.run([binary, 'rules', 'test', '--events', c['file']], capture_output=True, text=True)
    if r.returncode != 0: print("ERR", c['file'], r.stderr[:300]); continue
    rules = sorted({json.loads(l)['rule'] + ':' + json.loads(l)['priority'] for l in r.stdout.splitlines() if l.strip()})
    found = bool(rules)
    n18 += in18; hit18 += in18 and found; hit += found
    print('HIT ' if found else 'MISS', 'in18' if in18 else '    ', c['rule'], '|', c['name'], '|', last['eventType'], '|', ', '.join(rules)[:200])
print(f"{mode}: 18-type positives detected {hit18}/{n18}; all positives {hit}/{len(idx)}")
PY
