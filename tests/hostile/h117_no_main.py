# expect: runtime contract
# attack: no main function
def helper(**a):
    return {}
