"""CPU accounting shared by the bench/engine/*_ref.py scripts: how much CPU other processes used while a
benchmark ran ("foreign CPU", in cores), from /proc/stat and this process's own rusage."""
import os
import resource


def busy_s():
    """CPU seconds every process on the machine has spent busy (user..steal, without idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def own_s():
    """CPU seconds (user + system) of this process, all threads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
