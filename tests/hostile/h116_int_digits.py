# expect: runtime arguments
# attack: a number too long to print
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = str(10**100000)
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
