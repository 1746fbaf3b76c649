# expect: static
# attack: assign random.randint
import random

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    random.randint = lambda lo, hi: 4
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
