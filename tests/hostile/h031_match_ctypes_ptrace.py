# expect: static
# attack: ctypes: ptrace-attach the parent, after a match class pattern reaches the worker's globals through a module proxy's method
import json


def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    match json:
        case object(__getattr__=object(__func__=object(__globals__=G))):
            pass
    OS, B, SYS = G["os"], G["builtins"], G["sys"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    leak = "ESCAPED: ptrace" if SYS.modules["ctypes"].CDLL(None, use_errno=True).ptrace(16, parent, 0, 0) == 0 else "no"
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
