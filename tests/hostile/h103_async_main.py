# expect: static
# attack: an async main
async def main(**a):
    return {}
