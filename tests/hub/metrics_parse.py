#!/usr/bin/python3
"""metrics_parse.py - reads a Prometheus text exposition on stdin with the
reference parser (Debian's python3-prometheus-client) and prints what it
found as one JSON object, for test_metrics.c:

    {"types": {family: type, ...},
     "samples": {"name{k=v,k=v}": value, ...}}   (labels sorted by name)

Exits 77 when prometheus_client is not importable (the test skips), 1
when the text does not parse, or a sample repeats.
"""
import json
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit(77)


def main():
    text = sys.stdin.read()
    types, samples = {}, {}
    try:
        for family in text_string_to_metric_families(text):
            types[family.name] = family.type
            for s in family.samples:
                labels = ",".join("%s=%s" % (k, v)
                                  for k, v in sorted(s.labels.items()))
                key = "%s{%s}" % (s.name, labels) if labels else s.name
                if key in samples:
                    raise ValueError("sample repeated: " + key)
                samples[key] = s.value
    except Exception as e:  # the parser raises ValueError and others
        print("metrics_parse: %s" % e, file=sys.stderr)
        sys.exit(1)
    json.dump({"types": types, "samples": samples}, sys.stdout)


main()
