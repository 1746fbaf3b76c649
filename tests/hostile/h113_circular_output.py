# expect: runtime output
# attack: a circular output
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    x = []
    x.append(x)
    return {'result': 1, 'x': x}
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
