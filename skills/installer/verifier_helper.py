"""The verifier's warm helper, run by a new environment's base interpreter (never imported).

argv: the socket's descriptor, the verify script, the modules to preload (JSON). It imports
those modules once, then answers each request (JSON, with the write end of the caller's pipe)
by forking a child that runs the verify script as the environment's own interpreter would,
and sends back the child's pid. It reaps each child as it ends (waited for, not ignored, so
their CPU time shows in its children's times). It leaves on EOF (Atom's side is closed, which
the kernel does when Atom dies) or when it has a new parent.

Run with ``-I -S``: only the standard library, nothing of the project or of a site.
"""

import importlib
import json
import os
import signal
import socket
import sys

for name in json.loads(sys.argv[3]):
    try:
        importlib.import_module(name)
    except Exception:  # a module the base interpreter lacks is simply not preloaded
        pass

import ctypes  # noqa: E402 - after the preloads, which may already have imported them
import site  # noqa: E402
import types  # noqa: E402

PR_SET_PDEATHSIG = 1

channel = socket.socket(fileno=int(sys.argv[1]))
verify = compile(sys.argv[2], "<string>", "exec")
parent = os.getppid()
libc = ctypes.CDLL(None) if sys.platform == "linux" else None


def reap(*_: object) -> None:
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def child(request: dict, out: int) -> None:
    code = 1
    try:
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))  # it ends with the helper
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        channel.close()
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.environ.clear()
        os.environ.update(request["environ"])
        sys.executable = request["python"]
        site.main()  # reads the environment's pyvenv.cfg, as its own interpreter's start does
        sys.argv = ["-c", request["argument"]]
        main = types.ModuleType("__main__")
        main.__builtins__ = __builtins__
        sys.modules["__main__"] = main
        exec(verify, main.__dict__)
        code = 0
    except SystemExit as error:
        code = error.code if isinstance(error.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # the child is leaving whatever happens
                pass
        os._exit(code)


def serve() -> None:
    channel.settimeout(2.0)
    channel.send(json.dumps({"ready": os.getpid()}).encode())
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, 1 << 20, 1)
        except TimeoutError:
            if os.getppid() != parent:
                os._exit(0)
            continue
        if not message:
            os._exit(0)
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            child(request, fds[0])
        for fd in fds:
            os.close(fd)
        channel.send(json.dumps({"pid": pid}).encode())


signal.signal(signal.SIGCHLD, reap)
signal.signal(signal.SIGINT, signal.SIG_IGN)
serve()
