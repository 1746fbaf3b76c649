# expect: runtime recursion
# attack: deep recursion
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    def f(n):
        return f(n + 1)
    leak = f(0)
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
