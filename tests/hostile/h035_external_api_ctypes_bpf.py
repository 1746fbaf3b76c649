# expect: static
# attack: ctypes: the bpf syscall, after call_external_api.__globals__
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    G = call_external_api.__globals__
    OS, B, SYS = G["os"], G["builtins"], G["sys"]
    leak = None
    parent = a.get("parent_pid", OS.getppid())
    leak = "ESCAPED: bpf" if SYS.modules["ctypes"].CDLL(None, use_errno=True).syscall(321, 0, 0, 0) >= 0 else "no"
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
