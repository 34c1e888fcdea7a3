def counterfactual_outputs():
    """Return the files of the counterfactual analysis when it is enabled (none yet)."""
    return []
