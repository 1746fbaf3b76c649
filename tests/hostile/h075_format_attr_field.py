# expect: static
# attack: a format field naming an attribute
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = "{0.__class__.__base__}".format(1)
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
