# expect: static
# attack: delete a file, after a traceback's frame and f_back to the worker's globals
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    try:
        raise KeyError("x")
    except KeyError as exc:
        frame = exc.__traceback__.tb_frame
    G = frame.f_back.f_globals
    OS, B, SYS = G["os"], G["builtins"], G["sys"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    OS.remove(a.get("canary", "/tmp/gt-canary/canary.txt"))
    leak = "ESCAPED: deleted"
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
