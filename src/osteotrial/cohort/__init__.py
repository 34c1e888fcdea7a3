"""Virtual patients: the source population, screening, randomization and latent draws."""
