# expect: runtime cpu
# attack: a C-level computation that never returns to Python
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = pow(7, 10**10)
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
