"""Where a Summer request's CPU time goes, from `perf script` output.

Reads the call stacks of `perf record --call-graph dwarf` samples of a
`summer serve` process on stdin and splits them into the phases of a
request. Each sample counts once, for the first phase (in the order of
PHASES) whose frames it contains; a phase's share of the samples times the
measured CPU time per request is its cost in microseconds.

    perf script --no-inline -i perf.data | python3 request_profile.py CPU_US_PER_REQUEST

Guest code is what Cranelift compiled from the component (frames named
`wasm[N]::function[M]`); host functions the guest calls are counted by what
they do (wasi:http and wasi:io, or a capability), not as guest time.
"""

import collections
import re
import sys


def any_frame(*needles):
    return lambda stack: any(n in frame for frame in stack for n in needles)


def leaf_in_guest(stack):
    return stack[0].startswith("wasm[") or stack[0].startswith("0x")


PHASES = [
    ("guest code (routing, JSON, the SDK)", leaf_in_guest),
    ("capability call (host side, driver, pool)",
     any_frame("summer::capabilities", "redis::", "sqlx", "scylla", "neo4rs", "aws_sdk", "aws_smithy")),
    ("store drop and memory reset",
     any_frame("drop_in_place<wasmtime::runtime::store::StoreInner", "deallocate_module",
               "StoreOpaque as core::ops::drop::Drop")),
    ("store and WASI context set-up",
     any_frame("invoke::new_store", "WasiCtxBuilder", "Store<T>::try_new")),
    ("instance allocation and start-up",
     any_frame("instantiate", "Instantiator", "build_imports", "Instance::new",
               "trampoline_ptrs", "ModuleRegistry::register", "PoolingInstanceAllocator",
               "allocate_fiber_stack")),
    ("wasi:http and wasi:io host functions",
     any_frame("HostFn::entrypoint", "wasmtime_wasi_http", "wasmtime_wasi::", "wasmtime_wasi_io")),
    ("guest entry and exit (fibers, trampolines)",
     any_frame("fiber", "concurrent", "call_handle", "TypedFunc", "catch_unwind_and_record_trap")),
    ("response write (hyper, socket)",
     any_frame("poll_flush", "writev", "Http1Transaction>::encode", "poll_write_vectored")),
    ("accept, read and parse (hyper, socket)",
     any_frame("poll_read", "Buffered<T,B>::parse", "accept", "recv")),
    ("request id, span, metrics, admission",
     any_frame("request_id", "observe::metrics", "admission::", "tracing::span")),
    ("other host glue (invoke, routing, tokio)", lambda stack: True),
]

FRAME = re.compile(r"\s+[0-9a-f]+\s+(.*?)\s+\(")


def stacks(lines):
    stack = []
    for line in lines:
        if not line.strip():
            if stack:
                yield stack
            stack = []
            continue
        match = FRAME.match(line)
        if match:
            stack.append(re.sub(r"\+0x[0-9a-f]+$", "", match.group(1)))
    if stack:
        yield stack


def main():
    per_request = float(sys.argv[1])
    counts = collections.Counter()
    total = 0
    for stack in stacks(sys.stdin):
        total += 1
        for name, matches in PHASES:
            if matches(stack):
                counts[name] += 1
                break
    if total == 0:
        sys.exit("no samples with call stacks in the input")
    print(f"{total} samples, {per_request:.1f} µs of CPU per request")
    for name, _ in PHASES:
        share = counts[name] / total
        print(f"{100 * share:5.1f}%  {per_request * share:6.1f} µs  {name}")


if __name__ == "__main__":
    main()
