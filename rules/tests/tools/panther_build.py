"""Turns Panther's positive Okta test cases into LogEvent NDJSON files (one per case), with
mocked history replayed as earlier events. Mode 'strict': Okta's own fields only. Mode
'enriched': Panther's ipinfo enrichment copied into the Okta fields that carry the same facts
on a real event: ipinfo_location into client.geographicalContext, ipinfo_privacy (a VPN with
a service name, Apple Private Relay, a proxy, Tor: Panther's own test) into
securityContext.isProxy, ipinfo_asn into securityContext.asNumber (when Okta's are absent).
A debugData that is not an object (a test artefact) is dropped in both modes."""
import json, sys, os, re, copy, datetime
mode = sys.argv[1]
KEYS = {k.lower(): k for k in """eventType displayMessage legacyEventType authenticationContext debugContext debugData
securityContext userAgent rawUserAgent ipAddress geographicalContext postalCode alternateId displayName
detailEntry externalSessionId ipChain asNumber asOrg isProxy authenticationStep credentialType
credentialProvider authenticationProvider changeDetails ipDetails dtHash threatSuspected requestUri
logOnlySecurityData privilegeGranted""".split()}
def camel(v):
    if isinstance(v, dict): return {KEYS.get(k.lower(), k) if k.lower() in KEYS else k: camel(x) for k, x in v.items()}
    if isinstance(v, list): return [camel(x) for x in v]
    return v
def ts(text, fallback):
    m = re.match(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(\.\d+)?", str(text or ""))
    if not m: return fallback
    return datetime.datetime.fromisoformat(m.group(1)+"T"+m.group(2)).replace(tzinfo=datetime.timezone.utc)
def iso(t): return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
cases = json.load(open(os.path.join(os.environ.get('PANTHER_WORK', '/tmp/panther'), 'cases.json')))
out = os.path.join(os.environ.get('PANTHER_WORK', '/tmp/panther'), mode); os.makedirs(out, exist_ok=True)
index = []
for n, c in enumerate(cases):
    log = camel(copy.deepcopy(c['log']))
    if 'eventType' not in log: continue
    if log['eventType'].startswith('Aws') or c['rule'].startswith('AWS'): continue
    now = ts(log.get('published'), datetime.datetime(2024, 8, 15, 15, 0, tzinfo=datetime.timezone.utc))
    log['published'] = iso(now); log['uuid'] = f"panther-{n}"
    enr = ((log.get('p_enrichment') or {}).get('ipinfo_location') or {}).get('client.ipAddress')
    if mode == 'enriched' and enr and not (log.get('client') or {}).get('geographicalContext'):
        log.setdefault('client', {})['geographicalContext'] = {"city": enr.get('city'), "country": enr.get('country'),
            "geolocation": {"lat": float(enr['lat']), "lon": float(enr['lng'])}}
    dbg = (log.get('debugContext') or {})
    if 'debugData' in dbg and not isinstance(dbg['debugData'], dict): del dbg['debugData']
    if mode == 'enriched':
        pe = log.get('p_enrichment') or {}
        priv = (pe.get('ipinfo_privacy') or {}).get('client.ipAddress') or {}
        asn = ((pe.get('ipinfo_asn') or {}).get('client.ipAddress') or {}).get('asn')
        sc = log.setdefault('securityContext', {})
        if 'isProxy' not in sc and priv:
            sc['isProxy'] = bool((priv.get('vpn') and priv.get('service')) or priv.get('tor') or priv.get('proxy')
                                 or (priv.get('relay') and priv.get('service') == 'Apple Private Relay'))
        if 'asNumber' not in sc and asn and str(asn).upper().startswith('AS'):
            sc['asNumber'] = int(str(asn)[2:])
    events = []
    mocks = {m['objectName']: m['returnValue'] for m in (c['mocks'] or [])}
    if c['rule'] == 'Okta.PotentiallyStolenSession' and 'get_string_set' in mocks:
        prior = json.loads(mocks['get_string_set'])
        p = copy.deepcopy(log); p['uuid'] += '-h'; p['published'] = iso(now - datetime.timedelta(hours=1))
        p['outcome'] = {"result": "SUCCESS"}; p['client']['ipAddress'] = prior[1]
        p['client']['userAgent'] = {"rawUserAgent": prior[2].split(':', 1)[1], "browser": prior[3], "os": prior[4]}
        p['securityContext'] = {"asNumber": int(prior[0]), "asOrg": "previous network", "isProxy": False}
        events.append(p)
    if c['rule'] == 'Standard.ImpossibleTravel.Login' and 'get_string_set' in mocks and mode == 'enriched':
        for i, h in enumerate(json.loads(mocks['get_string_set'])):
            p = copy.deepcopy(log); p['uuid'] += f'-h{i}'; p['published'] = iso(ts(h['p_event_time'], now))
            p['client']['geographicalContext'] = {"city": h['city'], "country": h['country'],
                "geolocation": {"lat": float(h['lat']), "lon": float(h['lng'])}}
            p['client']['ipAddress'] = '198.51.100.200'
            events.append(p)
    repeat = 20 if c['rule'].startswith('Standard.BruteForce') else 1
    for i in range(repeat):
        e = copy.deepcopy(log)
        if repeat > 1: e['uuid'] += f'-{i}'; e['published'] = iso(now + datetime.timedelta(seconds=30*i))
        events.append(e)
    name = f"{out}/{n:02d}.ndjson"
    with open(name, 'w') as f:
        for e in events: f.write(json.dumps(e) + "\n")
    index.append({"file": name, "rule": c['rule'], "name": c['name'], "in18": c['in18'] or log['eventType'] in ('user.session.start',)})
json.dump(index, open(f'{out}/index.json', 'w'), indent=1)
print(len(index))
