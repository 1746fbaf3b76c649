# expect: static
# attack: assign json.JSONEncoder.encode for later calls
import json

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    json.JSONEncoder.encode = lambda self, o: "{}"
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
