# expect: static
# attack: string.Formatter().get_field
import string

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = string.Formatter().get_field("0.x", [1], {})
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
