#!/usr/bin/env python3
"""Latency of `bus read --follow`: from a `bus post` process returning to the follower
printing that message. Prints p50/p99 against the targets (5 ms, 20 ms).

    scripts/bench/follow_latency.py BIN BUS [N]
"""
import json
import os
import select
import subprocess
import sys
import time

bin_, bus = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 300
env = dict(os.environ)
follower = subprocess.Popen(
    [bin_, "bus", "read", "--bus", bus, "--follow", "--json", "--tail", "0"],
    stdout=subprocess.PIPE, env=env, bufsize=0,
)
try:
    fd = follower.stdout.fileno()
    buf = b""

    def read_line(deadline):
        global buf
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError("follower printed nothing")
            buf += os.read(fd, 65536)
        line, buf = buf.split(b"\n", 1)
        return line

    # Let the follower start and print a first message.
    subprocess.run([bin_, "bus", "post", "--bus", bus, "--body", "warm-up"], check=True,
                   stdout=subprocess.DEVNULL)
    read_line(time.monotonic() + 10)
    lat = []
    for i in range(n):
        subprocess.run([bin_, "bus", "post", "--bus", bus, "--body", f"m{i}"], check=True,
                       stdout=subprocess.DEVNULL)
        returned = time.monotonic()
        line = read_line(returned + 5)
        printed = time.monotonic()
        assert json.loads(line)["body"] == f"m{i}"
        lat.append(printed - returned)
        time.sleep(0.002)
    lat.sort()
    p50 = lat[len(lat) // 2] * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    print(f"--follow latency over {n} posts (post returned -> follower printed):")
    print(f"  p50 {p50:.2f} ms (target <= 5), p99 {p99:.2f} ms (target <= 20), max {lat[-1]*1000:.2f} ms")
finally:
    follower.kill()
    follower.wait()
