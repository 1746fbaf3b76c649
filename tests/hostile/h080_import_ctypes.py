# expect: static
# attack: import ctypes
import ctypes

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = ctypes.CDLL(None).getpid()
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
