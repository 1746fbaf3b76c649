# expect: static
# attack: disable the CPU limit and spin, after dunder attributes from main to the worker's globals
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    G = main.__globals__["__builtins__"]["__import__"].__func__.__globals__
    OS, B, SYS = G["os"], G["builtins"], G["sys"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    SIG, RES = SYS.modules["signal"], SYS.modules.get("resource")
    SIG.setitimer(SIG.ITIMER_PROF, 0)
    SIG.signal(SIG.SIGPROF, SIG.SIG_IGN)
    SIG.signal(SIG.SIGXCPU, SIG.SIG_IGN)
    try:
        RES.setrlimit(RES.RLIMIT_CPU, (RES.RLIM_INFINITY, RES.RLIM_INFINITY))
    except Exception:
        pass
    while True:
        pass
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
