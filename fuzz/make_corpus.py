#!/usr/bin/env python3
"""Writes the fuzz seed corpora (fuzz/corpus/<target>/) from the JSON examples of KIE's API pages
(the API notes file given as the first argument, when given) and the test fixtures, plus listener requests
built from the callback examples (plain, pipelined, 100-continue, signed with the fuzz target's key).
Re-run after adding fixtures; file names are content hashes, so re-running is idempotent."""
import base64, hashlib, hmac, json, os, re, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fixtures = os.path.join(root, "tests", "fixtures")
corpus = os.path.join(root, "fuzz", "corpus")
spec = sys.argv[1] if len(sys.argv) > 1 else None

SECRET = "fuzz-secret-0123456789"          # fuzz/callback_listener.cpp
HMAC_KEY = b"fuzz-webhook-hmac-key"         # fuzz/callback_listener.cpp
BASE = "/base"                              # path of the signed listener's public_base_url


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def fixture_bodies(prefixes):
    out = []
    for name in sorted(os.listdir(fixtures)):
        if any(name.startswith(p) for p in prefixes):
            with open(os.path.join(fixtures, name), "rb") as f:
                out.append(f.read())
    return out


doc = {}
if spec:
    text = open(spec, encoding="utf-8").read()
    for m in re.finditer(r"```json\n(.*?)```", text, re.S):
        body = m.group(1).strip()
        try:
            v = json.loads(body)
        except ValueError:
            continue
        if not isinstance(v, dict) or "code" not in v:
            continue
        data = v.get("data")
        if isinstance(data, dict) and ("vocal_separation_info" in data or "vocal_removal_info" in data):
            doc.setdefault("separation_callback", []).append(body)
        elif isinstance(data, dict) and "state" in data and "instruments" in data:
            doc.setdefault("midi_callback", []).append(body)
        elif "task_id" in v and isinstance(data, dict) and "instruments" in data:
            doc.setdefault("midi_callback", []).append(body)
        elif isinstance(data, dict) and "midiData" in data:
            doc.setdefault("midi_record", []).append(body)
        elif isinstance(data, dict) and ("originData" in data or "vocal_separation_info" in data or "response" in data and "successFlag" in data and "musicId" in data):
            doc.setdefault("separation_record", []).append(body)
        elif isinstance(data, dict) and "sunoData" in json.dumps(data):
            doc.setdefault("music_task_record", []).append(body)
        elif isinstance(data, (int, float)):
            doc.setdefault("credits_response", []).append(body)
        elif isinstance(data, dict) and list(data.keys()) == ["taskId"]:
            doc.setdefault("submit_response", []).append(body)
        else:
            doc.setdefault("envelope", []).append(body)

errors = fixture_bodies(["error_"])
sets = {
    "separation_callback": fixture_bodies(["separation_callback_"]),
    "midi_callback": fixture_bodies(["midi_callback_"]),
    "submit_response": fixture_bodies(["midi_submit_response", "separation_submit_response"]) + errors,
    "separation_record": fixture_bodies(["separation_record_"]) + errors,
    "midi_record": fixture_bodies(["midi_record"]) + errors,
    "credits_response": fixture_bodies(["credits"]) + errors,
    "music_task_record": fixture_bodies(["music_task_record"]) + errors,
}
for target, bodies in doc.items():
    if target in sets:
        sets[target] += [b.encode() for b in bodies]
for target, bodies in sets.items():
    for b in bodies:
        put(target, b)

# The classifier sees every answer: two bytes of HTTP status, then the body.
for status, bodies in [(200, sum(sets.values(), [])), (429, errors[:1]), (500, errors[:1]), (455, [b""])]:
    for b in bodies:
        put("kie_response_classifier", (status - 100).to_bytes(2, "big") + b)


def request(kind, body, prefix="", extra="", connection="keep-alive", method="POST"):
    return (f"{method} {prefix}/kiemidi/callback/{SECRET}/{kind} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: {connection}\r\n"
            f"{extra}\r\n").encode() + body


def task_id(body):
    v = json.loads(body)
    d = v.get("data") if isinstance(v.get("data"), dict) else {}
    for k in ("task_id", "taskId"):
        if isinstance(d.get(k), (str, int)):
            return str(d[k])
    for k in ("task_id", "taskId"):
        if isinstance(v.get(k), (str, int)):
            return str(v[k])
    return ""


ts = "1767225600"
for kind, bodies in [("separation", sets["separation_callback"]), ("midi", sets["midi_callback"])]:
    for b in bodies:
        put("callback_listener", request(kind, b))
        sig = base64.b64encode(hmac.new(HMAC_KEY, (task_id(b) + "." + ts).encode(), hashlib.sha256).digest()).decode()
        put("callback_listener", request(kind, b, BASE, f"X-Webhook-Timestamp: {ts}\r\nX-Webhook-Signature: {sig}\r\n"))
b = sets["midi_callback"][0]
put("callback_listener", request("midi", b) + request("midi", b, connection="close"))
put("callback_listener", request("midi", b, extra="Expect: 100-continue\r\n"))
put("callback_listener", request("midi", b, method="GET"))
put("callback_listener", b"GET /kiemidi/callback/wrong/midi HTTP/1.1\r\nHost: x\r\n\r\n")
put("callback_listener", (f"POST /kiemidi/callback/{SECRET}/separation HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                          f"{len(b):x}\r\n").encode() + b + b"\r\n0\r\n\r\n")
