# expect: static
# attack: assign through an alias of a class
import json

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    E = json.JSONDecoder
    E.decode = lambda self, s: {}
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
