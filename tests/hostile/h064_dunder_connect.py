# expect: static
# attack: open a loopback TCP connection, after dunder attributes from main to the worker's globals
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    G = main.__globals__["__builtins__"]["__import__"].__func__.__globals__
    OS, B, SYS = G["os"], G["builtins"], G["sys"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    SOCK = SYS.modules["socket"]
    SOCK.create_connection(("127.0.0.1", a.get("port", 9)), timeout=1).sendall(b"key")
    leak = "ESCAPED: connected"
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
