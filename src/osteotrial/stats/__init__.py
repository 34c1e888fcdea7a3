"""Statistics of the endpoint tables and the analyses, one job per module.

- ``intervals``: confidence intervals of proportions, means, risk ratios and paired differences;
- ``cox``: the Cox model of one binary covariate (hazard ratio, Wald test) and its lifelines
  cross-check;
- ``tests``: significance tests of two groups (Fisher's exact test, one table or arrays of
  them; the pooled z-test);
- ``logrank``: the log-rank test (Cox score test at beta = 0) of nested replicate samples at
  several administrative censoring times;
- ``power``: power and sample size of the pooled z-test (normal approximation and exact).
"""
