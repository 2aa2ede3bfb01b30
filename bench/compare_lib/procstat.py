"""CPU time and RSS of a running process, read from /proc.

CPU time is utime + stime in clock ticks (usually 10 ms each):
  * all threads: /proc/PID/stat, which is the sum over /proc/PID/task/*/stat plus the time of
    threads that already exited (so a short-lived thread is not lost);
  * main thread: /proc/PID/task/PID/stat (the thread whose id is the process id).
"""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_ticks(path):
    """utime + stime (fields 14 and 15) of a stat file, in clock ticks; None if unreadable."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')'.
    rest = data[data.rfind(b")") + 2:].split()
    # rest[0] is field 3 (state): field N is rest[N - 3].
    return int(rest[11]) + int(rest[12])


class CpuSample:
    __slots__ = ("total", "main", "threads")

    def __init__(self, total, main, threads):
        self.total = total      # seconds, all threads
        self.main = main        # seconds, main thread
        self.threads = threads  # number of live threads


def cpu_sample(pid):
    """CPU seconds used so far by pid (all threads and the main thread), or None."""
    total = _stat_ticks("/proc/%d/stat" % pid)
    main = _stat_ticks("/proc/%d/task/%d/stat" % (pid, pid))
    if total is None or main is None:
        return None
    try:
        threads = len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        threads = 0
    return CpuSample(total / CLK_TCK, main / CLK_TCK, threads)


def rss_kb(pid):
    """VmRSS of pid in KiB, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None
