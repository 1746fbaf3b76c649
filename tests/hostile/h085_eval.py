# expect: static
# attack: eval
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = eval("1")
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
