# expect: static
# attack: nested format spec reaching os.environ
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = "{0:{1.__globals__[__builtins__]}}".format(1, main)
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
