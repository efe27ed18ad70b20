"""(c) the loop a Python user writes: requests.Session() and .json().

    /usr/bin/python3 bench/requests_loop.py ENDPOINT JOB EXPECTED
"""
import sys
import time

import requests

endpoint, job, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = f"{endpoint}/v2/bench/training-jobs/{job}/events"

t0 = time.perf_counter()
n = offset = 0
with requests.Session() as s:
    s.headers["X-Auth-Token"] = "x"
    while True:
        r = s.get(url, params={"limit": 100, "offset": offset})
        r.raise_for_status()
        page = r.json()
        events = page["events"]
        for _ in events:
            n += 1
        offset += len(events)
        if not events or offset >= int(page["total"]):
            break
elapsed = time.perf_counter() - t0
assert n == expected, f"expected {expected} events, got {n}"
print(f"elapsed {elapsed:.6f} events {n}")
