# expect: static
# attack: kill its process group, after object.__subclasses__() to os._wrap_close and its globals
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
    OS.killpg(0, 9)
    leak = "ESCAPED: killpg"
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
