# expect: static
# attack: a metaclass
class M(type):
    pass


class C(metaclass=M):
    pass


def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = C
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
