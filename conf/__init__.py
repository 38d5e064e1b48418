"""recframe's Hydra config tree, installed as the data package ``recframe.conf``."""
