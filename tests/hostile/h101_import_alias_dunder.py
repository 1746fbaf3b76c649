# expect: static
# attack: an import alias shadowing __import__
from json import dumps as __import__

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = dumps
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
