# expect: runtime cpu
# attack: an infinite loop
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    while True:
        pass
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
