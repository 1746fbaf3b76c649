# expect: runtime cpu
# attack: a loop that swallows the CPU signal
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    while True:
        try:
            while True:
                pass
        except Exception:
            pass
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
