"""What a trial shows: endpoint tables, counterfactual twins, power, prediction intervals."""
