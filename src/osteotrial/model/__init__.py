"""The science, written once: parameters, PK, bone remodeling, BMD, fracture hazards, T-scores.

Every equation is a small scalar function that numba compiles for each engine (CPU loop, GPU
kernel, LSODA reference); nothing here knows an arm, a drug schedule or a cohort table.
"""
