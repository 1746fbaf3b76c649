# expect: runtime external
# attack: call_external_api with arguments that are not JSON
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    call_external_api('t', x=object())
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
