# expect: runtime output
# attack: a generator as output
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    return (i for i in range(3))
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
