# expect: static
# attack: getattr with a computed name
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = getattr(main, "__glo" + "bals__")
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
