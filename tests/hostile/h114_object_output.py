# expect: runtime output
# attack: an output that is not JSON
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    return {'result': object()}
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
