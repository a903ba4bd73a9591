"""A seccomp filter for sandboxed runners: system calls no skill needs are refused.

The namespaces already keep a skill from the host's files, processes and network, and without
capabilities or new user namespaces it cannot mount or set up namespaces of its own. What is
left is the kernel itself: every system call is code a hostile skill can reach, and on a host
where Atom runs as root, a kernel escape from the namespaces would be root. So bwrap installs
this filter (`--seccomp`) just before it starts the runner: the calls below fail with `EPERM`
(not a kill: a program that probes for them, as libuv probes io_uring, falls back as it does
on any host that refuses them), and calls of a foreign architecture's ABI kill the process.

The list follows Docker's default profile where it refuses calls, less what bwrap's options
already refuse: kernel keyrings, BPF, performance counters, userfaultfd, io_uring, ptrace and
reading other processes' memory, kernel modules, kexec, clock and swap and reboot, mounting
and namespaces, handles to files by inode, and the obsolete calls. The filter is built once
per process with libseccomp (Debian's libseccomp2, through `pyseccomp`).
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import tempfile

logger = logging.getLogger(__name__)

REFUSED = (
    # Kernel keyrings, BPF, performance counters, userfaultfd, io_uring: large attack surfaces.
    "add_key", "request_key", "keyctl", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # Other processes' memory and state.
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # The kernel, the clock, swap, the machine.
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "swapon", "swapoff",
    "reboot", "syslog", "acct", "iopl", "ioperm", "quotactl", "lookup_dcookie", "vhangup",
    # Mounts and namespaces (bwrap's own set-up is done before the filter applies).
    "mount", "umount2", "pivot_root", "chroot", "setns", "unshare", "fsopen", "fsconfig",
    "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    # Files by handle, past the mount namespace's view.
    "open_by_handle_at", "name_to_handle_at",
    # Obsolete.
    "uselib", "ustat", "sysfs", "_sysctl", "nfsservctl",
)  # fmt: skip


@functools.cache
def seccomp_program() -> bytes | None:
    """The filter as a BPF program for bwrap's `--seccomp`, or None where libseccomp cannot
    be loaded (the sandbox then runs without it; `seccomp_status` says so)."""
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError) as error:
        logger.warning("sandbox: no seccomp filter (libseccomp cannot be loaded: %s)", error)
        return None
    program = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for name in REFUSED:
        try:
            program.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
        except (ValueError, OSError, RuntimeError):
            continue  # not a call of this architecture
    with tempfile.TemporaryFile() as exported:
        program.export_bpf(exported)
        exported.seek(0)
        return exported.read()


def seccomp_status() -> str:
    program = seccomp_program()
    if program is None:
        return "no seccomp filter: libseccomp cannot be loaded (apt-get install libseccomp2)"
    return f"a seccomp filter refusing {len(REFUSED)} system calls"


def seccomp_fd() -> int | None:
    """A new descriptor holding the program from its start, for one runner's bwrap to read
    (the caller closes it once bwrap has started); None without a program."""
    program = seccomp_program()
    if program is None:
        return None
    fd = os.memfd_create("atom-seccomp", os.MFD_CLOEXEC)
    os.write(fd, program)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
