# expect: static
# attack: format_map on a variable
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    t = "{x}"
    leak = t.format_map({"x": 1})
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
