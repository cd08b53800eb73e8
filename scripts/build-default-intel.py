#!/usr/bin/env python3
"""Builds the shipped default indicator and whitelist files (iocs/, whitelists/) from the
team's corpus snapshot (../shared/corpus/iocs by default). Run from the repository root:

    python3 scripts/build-default-intel.py [CORPUS_IOCS_DIR]

Every output file holds one entry per line, so diagnostics and evidence name a useful line.
The README.md and NOTICE files of iocs/ and whitelists/ say what comes from where."""

import json
import re
import sys
from pathlib import Path

corpus = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus/iocs")
LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")
IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def valid_domain(v):
    labels = v.split(".")
    return (len(v) <= 253 and len(labels) >= 2 and all(LABEL.match(l) for l in labels)
            and not IPV4.match(v))


def write_iocs(path, entries, key="iocs"):
    with open(path, "w") as f:
        f.write('{"%s": [\n' % key)
        f.write(",\n".join(json.dumps(e) for e in entries))
        f.write("\n]}\n")
    print(f"{path}: {len(entries)} entries")


def trails(path):
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            yield line.lower()


tc = json.load(open(corpus / "tinycheck/iocs.json"))["iocs"]
keep = []
for e in tc:
    if e["tag"] == "tracker":
        continue
    keep.append({k: e[k] for k in ("type", "tag", "tlp", "value")})
write_iocs("iocs/tinycheck.json", keep)

st = json.load(open(corpus / "stalkerware-indicators/generated/indicators-for-tinycheck.json"))["iocs"]
keep = []
for e in st:
    if e["type"] == "domain" and not valid_domain(e["value"].lower()):
        print("dropped from the stalkerware feed:", e["value"])
        continue
    keep.append({k: e[k] for k in ("type", "tag", "tlp", "value")})
write_iocs("iocs/stalkerware.json", keep)

mt = corpus / "maltrail/trails/static/suspicious"
seen = set()
freedns = []
for v in trails(mt / "dynamic_domain.txt"):
    if valid_domain(v) and v not in seen:
        seen.add(v)
        freedns.append({"type": "freedns", "tag": "suspect", "tlp": "white", "value": v})
write_iocs("iocs/maltrail-freedns.json", freedns)

seen = set()
tlds = []
for v in trails(mt / "domain.txt"):
    if v.startswith(".") and v.count(".") == 1 and LABEL.match(v[1:]) and v not in seen:
        seen.add(v)
        tlds.append({"type": "tld", "tag": "suspect", "tlp": "white", "value": v})
write_iocs("iocs/maltrail-tld.json", tlds)

wl = json.load(open(corpus / "tinycheck/whitelist.json"))["elements"]
write_iocs("whitelists/tinycheck.json", [{"type": e["type"], "element": e["element"]} for e in wl],
           key="elements")
write_iocs("whitelists/ipv6.json", [
    {"type": "cidr", "element": "ff00::/8"},
    {"type": "cidr", "element": "fe80::/10"},
    {"type": "cidr", "element": "fc00::/7"},
], key="elements")
