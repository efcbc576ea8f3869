# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A small demo 'service': handles fake requests that parse, query and
render, with one deliberately slow path, so the flame graph has a shape."""
import json
import sys
import time


def parse_request(i):
    return json.loads(json.dumps({"id": i, "items": list(range(50))}))


def query_database(req):
    total = 0
    for x in req["items"]:
        total += sum(range(x * 20))
    return total


def slow_report(n):
    s = 0
    for i in range(n):
        s += i % 7
    return s


def render(result):
    return ("<li>%d</li>" % result) * 20


def handle(i):
    req = parse_request(i)
    res = query_database(req)
    if i % 5 == 0:
        res += slow_report(40000)
    return render(res)


def serve(seconds):
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        handle(i)
        i += 1


if __name__ == "__main__":
    serve(float(sys.argv[1]) if len(sys.argv) > 1 else 30)
