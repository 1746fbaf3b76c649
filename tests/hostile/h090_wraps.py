# expect: static
# attack: functools.wraps with dunder names
import functools

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = functools.wraps(main, assigned=("__globals__",))
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
