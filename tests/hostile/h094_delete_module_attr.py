# expect: static
# attack: delete a module attribute
import json

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    del json.dumps
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
