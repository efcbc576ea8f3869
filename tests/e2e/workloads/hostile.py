# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# A process that corrupts its own interpreter state through ctypes, the way
# a hostile target could, in threads that then spin forever (so CPython
# itself never walks the damage): a frame chain with a cycle, a frame with
# wild code and parent pointers, and a code object whose name, qualname and
# filename strings claim a length of 2**40. One thread stays healthy.
# CPython 3.11 layout (the offsets of user/python/pyversions.c). Prints the thread
# ids as JSON when ready.
import ctypes
import json
import sys
import threading
import time
import types

assert sys.version_info[:2] == (3, 11), "offsets below are for 3.11"
TSTATE_CFRAME, CFRAME_CURRENT = 56, 8
F_PREVIOUS, F_CODE = 48, 32
CO_FILENAME, CO_NAME, CO_QUALNAME = 112, 120, 128
STR_LENGTH = 16

get_tstate = ctypes.pythonapi.PyThreadState_Get
get_tstate.restype = ctypes.c_void_p
ids = {}


def u64(addr):
    return ctypes.c_uint64.from_address(addr)


def caller_frame():
    """The _PyInterpreterFrame of the function calling this one."""
    me = u64(u64(get_tstate() + TSTATE_CFRAME).value + CFRAME_CURRENT).value
    return u64(me + F_PREVIOUS).value


def spin():
    while True:
        pass


def cycle_inner():
    inner = caller_frame()
    outer = u64(inner + F_PREVIOUS).value
    u64(outer + F_PREVIOUS).value = inner  # outer -> inner -> outer -> ...
    ids["cycle"] = threading.get_native_id()
    while True:
        pass


def cycle_outer():
    cycle_inner()


def wild_inner():
    outer = u64(caller_frame() + F_PREVIOUS).value
    u64(outer + F_CODE).value = 0x10                 # code object nowhere
    u64(outer + F_PREVIOUS).value = 0x7ff0deadbe00   # parent nowhere
    ids["wild"] = threading.get_native_id()
    while True:
        pass


def wild_outer():
    wild_inner()


src = "def huge_strings_function_zq():\n    ids['huge'] = __import__('threading').get_native_id()\n" \
      "    while True:\n        pass\n"
ns = {"ids": ids}
exec(compile(src, "/tmp/hostile-huge-file.py", "exec"), ns)
huge_fn = ns["huge_strings_function_zq"]


def huge_thread():
    code = id(huge_fn.__code__)
    for off in (CO_NAME, CO_QUALNAME, CO_FILENAME):
        s = u64(code + off).value
        u64(s + STR_LENGTH).value = 1 << 40
    huge_fn()


def normal_work():
    ids["normal"] = threading.get_native_id()
    while True:
        sum(range(100))


for f in (cycle_outer, wild_outer, huge_thread, normal_work):
    threading.Thread(target=f, daemon=True).start()
while len(ids) < 4:
    time.sleep(0.01)
print(json.dumps(ids), flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 60)
