# expect: runtime output
# attack: an output over the limit
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = 'y' * 10**6
    return {'result': 1, 'big': 'y' * 10**7}
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
