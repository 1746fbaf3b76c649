# expect: static
# attack: kill another process, after call_external_api.__globals__
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    G = call_external_api.__globals__
    OS, B, SYS = G["os"], G["builtins"], G["sys"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    OS.kill(a.get("sibling_pid", 1), 9)
    leak = "ESCAPED: killed a sibling"
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
