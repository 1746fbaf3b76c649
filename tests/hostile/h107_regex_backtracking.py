# expect: runtime cpu
# attack: catastrophic regex backtracking
import re

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = re.match(r"(a+)+$", "a" * 40 + "b")
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
