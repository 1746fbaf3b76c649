# expect: static
# attack: write a file
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    open("/tmp/gt-escape", "w").write("x")
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
