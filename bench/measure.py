"""Runs one command and records what it cost the machine.

    /usr/bin/python3 bench/measure.py RESULT_FILE CMD [ARG...]

The command's stdout and stderr pass through; its exit status is ours.
RESULT_FILE gets one line: "wall S cpu S rss KIB" - wall time from fork to
exit, CPU time (user + sys) and peak RSS of the command, from the kernel's
accounting of the waited-for child (getrusage, microsecond resolution:
GNU time prints only hundredths).
"""
import resource
import subprocess
import sys
import time

result_file, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
rc = subprocess.call(cmd)
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(result_file, "w") as f:
    f.write(f"wall {wall:.6f} cpu {ru.ru_utime + ru.ru_stime:.6f} rss {ru.ru_maxrss}\n")
sys.exit(rc if rc >= 0 else 128 - rc)
