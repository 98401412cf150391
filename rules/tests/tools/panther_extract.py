"""Lists the positive Okta test cases of a local panther-analysis mirror (PANTHER_REPO) into
PANTHER_WORK/cases.json, for panther_build.py and panther_score.sh."""
import yaml, json, subprocess, sys, os
repo=os.environ.get('PANTHER_REPO', '/work/.mirror/panther-labs+panther-analysis/repo')
work=os.environ.get('PANTHER_WORK', '/tmp/panther')
files=subprocess.check_output(['git','-C',repo,'ls-tree','-r','--name-only','HEAD','rules']).decode().split()
EIGHTEEN=set("""application.user_membership.add group.user_membership.add system.api_token.create system.org.rate_limit.violation user.account.lock user.account.privilege.grant user.account.reset_password user.account.update_password user.authentication.auth_via_mfa user.authentication.sso user.lifecycle.activate user.lifecycle.create user.lifecycle.deactivate user.lifecycle.suspend user.lifecycle.unsuspend user.mfa.factor.deactivate user.mfa.factor.reset_all user.session.start""".split())
cases=[]
for f in files:
    if not f.endswith(('.yml','.yaml')): continue
    text=subprocess.check_output(['git','-C',repo,'show','HEAD:'+f]).decode()
    if 'Okta' not in text: continue
    try: d=yaml.safe_load(text)
    except Exception as e: continue
    if not isinstance(d,dict) or d.get('AnalysisType') not in ('rule','scheduled_rule'): continue
    for t in d.get('Tests') or []:
        log=t.get('Log')
        if not t.get('ExpectedResult') or not isinstance(log,dict): continue
        if 'eventType' not in log and 'eventtype' not in log: continue
        cases.append({'rule':d.get('RuleID'),'name':t.get('Name'),'log':log,'mocks':t.get('Mocks'),'in18':log.get('eventType') in EIGHTEEN})
os.makedirs(work, exist_ok=True)
json.dump(cases, open(os.path.join(work, 'cases.json'), 'w'), default=str)
print(len(cases), sum(c['in18'] for c in cases))
for c in cases: print(c['in18'], c['rule'], '|', c['name'], '|', c['log'].get('eventType'), '| mocks' if c['mocks'] else '')
