# expect: static
# attack: import threading
import threading

def main(**a):
    if "a" not in a or "b" not in a:
        raise ValueError("a and b are required")
    leak = None
    threading.Thread(target=lambda: None).start()
    return {"result": a["a"] + a["b"], "leak": str(leak)[:4000]}
