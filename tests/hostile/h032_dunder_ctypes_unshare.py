# expect: static
# attack: ctypes: a new user namespace, after dunder attributes from main to the worker's globals
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    G = main.__globals__["__builtins__"]["__import__"].__func__.__globals__
    OS, B, SYS = G["os"], G["builtins"], G["sys"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    leak = "ESCAPED: unshare" if SYS.modules["ctypes"].CDLL(None, use_errno=True).unshare(0x10000000) == 0 else "no"
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
