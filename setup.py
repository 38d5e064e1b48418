"""Package discovery that pyproject.toml alone cannot express.

The core lives in ``recframe/``, the built-in plugins in ``plugins/`` (each an ordinary top-level
package, as a third-party plugin would be) and the Hydra config tree in ``conf/``, which is installed
as the data package ``recframe.conf`` so that the CLI works outside a checkout.
``hydra_plugins/recframe_optuna_sweeper`` holds the Hydra plugin class of recframe's Optuna sweeper (Hydra
loads plugins only from the ``hydra_plugins`` package).
"""

from setuptools import find_packages, setup

core = find_packages(".", include=["recframe", "recframe.*"])
builtin_plugins = find_packages("plugins", include=["recframe_*"])

setup(
    packages=core + builtin_plugins + ["recframe.conf", "hydra_plugins.recframe_optuna_sweeper"],
    package_dir={"recframe.conf": "conf", **{p: f"plugins/{p.replace('.', '/')}" for p in builtin_plugins}},
    package_data={"recframe.conf": ["**/*.yaml"], "": ["*.yaml", "conf/**/*.yaml"],  # plugins ship conf/<group>/
                  "recframe": ["py.typed"]},
    include_package_data=False,
)
