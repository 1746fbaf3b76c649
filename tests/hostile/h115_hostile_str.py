# expect: runtime exception
# attack: an exception whose __str__ raises
class E(Exception):
    def __str__(self):
        raise RuntimeError('no')


def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    raise E()
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
