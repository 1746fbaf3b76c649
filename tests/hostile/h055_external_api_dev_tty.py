# expect: static
# attack: write to the terminal, after call_external_api.__globals__
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    G = call_external_api.__globals__
    OS, B, SYS = G["os"], G["builtins"], G["sys"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    B.open("/dev/tty", "w").write("x")
    leak = "ESCAPED: tty"
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
