# expect: static
# attack: truncate a file, after dunder attributes from main to the worker's globals
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    G = main.__globals__["__builtins__"]["__import__"].__func__.__globals__
    OS, B, SYS = G["os"], G["builtins"], G["sys"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    B.open(a.get("canary", "/tmp/gt-canary/canary.txt"), "w").close()
    leak = "ESCAPED: truncated"
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
