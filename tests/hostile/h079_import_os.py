# expect: static
# attack: import os
import os

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = os.environ
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
