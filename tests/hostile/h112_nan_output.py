# expect: runtime output
# attack: NaN in the output
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    return {'result': float('nan')}
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
