# expect: static
# attack: __import__
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = __import__("os").environ
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
