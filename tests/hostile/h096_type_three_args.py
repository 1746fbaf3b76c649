# expect: static
# attack: type() with three arguments
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    X = type("X", (), {"y": 1})
    leak = X.y
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
