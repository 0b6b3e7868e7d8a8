"""What the machine lends a build: the CPUs this process may run on (its affinity: under a cpuset, the set's
CPUs, not all of the host's)."""

import os


def cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
