# expect: static
# attack: open a file
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    leak = open("/etc/shadow").read()
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
