def power_outputs():
    """Return the files of the power analysis when it is enabled (none yet)."""
    return []
