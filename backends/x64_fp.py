"""Native floating point for the baseline tier (x64_emit.py): none yet, every
FP operation calls its helper.  (plan(em) -> None: the TB lowers no FP op.)"""


def plan(em):
    return None
