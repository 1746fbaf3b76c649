# expect: static
# attack: a generator's frame
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    g = (x for x in [1])
    leak = g.gi_frame.f_globals
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
