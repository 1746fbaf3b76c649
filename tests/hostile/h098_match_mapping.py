# expect: static
# attack: a mapping pattern on a dunder key
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    match {"__builtins__": 1}:
        case {"__builtins__": x}:
            leak = x
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
