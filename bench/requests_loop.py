"""The loop a Python user writes: requests.Session() and .json().

    /usr/bin/python3 bench/requests_loop.py ENDPOINT JOB

Prints "elapsed S cpu S events N errors E chars C" (the loop alone; chars:
the messages' length in characters, as Python counts them).
"""
import sys
import time

import requests

endpoint, job = sys.argv[1], sys.argv[2]
url = f"{endpoint}/v2/bench/training-jobs/{job}/events"

t0, c0 = time.perf_counter(), time.process_time()
n = errors = chars = offset = 0
with requests.Session() as s:
    s.headers["X-Auth-Token"] = "x"
    while True:
        r = s.get(url, params={"limit": 100, "offset": offset})
        r.raise_for_status()
        page = r.json()
        events = page["events"]
        for ev in events:
            n += 1
            if ev["level"] == "Error":
                errors += 1
            chars += len(ev["message"])
        offset += len(events)
        if not events or offset >= int(page["total"]):
            break
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
print(f"elapsed {elapsed:.6f} cpu {cpu:.6f} events {n} errors {errors} chars {chars}")
