# expect: static
# attack: listen on a TCP port, after call_external_api.__globals__
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    G = call_external_api.__globals__
    OS, B, SYS = G["os"], G["builtins"], G["sys"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    SOCK = SYS.modules["socket"]
    s = SOCK.socket()
    s.bind(("0.0.0.0", 0))
    s.listen()
    leak = "ESCAPED: listening"
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
