// What the load driver reads of its own process: CPU time, resident memory, and the open-file
// limit it raises before thousands of pipelines open their sockets.
#ifndef KIEMIDI_BENCHMARKS_LOAD_PROCESS_USAGE_HPP
#define KIEMIDI_BENCHMARKS_LOAD_PROCESS_USAGE_HPP

namespace kiemidi::bench {

/// A field of /proc/self/status in KiB (VmRSS, VmHWM), 0 if unreadable.
long proc_status_kib(const char* field);

/// CPU time of this process (getrusage), user + system and system alone: the kernel's share
/// (sockets, epoll, page faults) is what no client of the same protocol can avoid.
struct cpu_time
{
    double total = 0, sys = 0;
};

/// This process's CPU time so far.
cpu_time cpu_seconds();

/// Raises the open-file limit to the hard limit (10,000 pipelines need many sockets); the
/// spawned emulator inherits it.
void raise_fd_limit();

}  // namespace kiemidi::bench

#endif
