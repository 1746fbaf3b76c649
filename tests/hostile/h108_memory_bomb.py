# expect: runtime memory
# attack: grow memory without end
def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    chunks = []
    while True:
        chunks.append('x' * 10**7)
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
