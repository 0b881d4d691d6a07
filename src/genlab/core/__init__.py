"""What every part of genlab shares: the model contract, the registry, errors and common checks."""
