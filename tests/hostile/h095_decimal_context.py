# expect: static
# attack: set attributes of a shared context
import decimal

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    decimal.getcontext().prec = 10**9
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
