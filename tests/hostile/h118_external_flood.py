# expect: runtime external
# attack: more call_external_api calls than allowed
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    for i in range(100):
        call_external_api('t', i=i)
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
