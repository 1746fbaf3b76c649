# expect: static
# attack: a class pattern on an exception's traceback
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    try:
        raise KeyError(1)
    except KeyError as e:
        match e:
            case KeyError(__traceback__=tb):
                leak = tb
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
