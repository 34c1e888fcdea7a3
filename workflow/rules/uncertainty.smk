def uncertainty_outputs():
    """Return the files of the uncertainty analysis when it is enabled (none yet)."""
    return []
