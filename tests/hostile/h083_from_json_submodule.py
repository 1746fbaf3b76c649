# expect: static
# attack: a submodule of an allowed module
from json import decoder

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = decoder.scanstring
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
