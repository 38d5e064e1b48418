"""Built-in data sources and splitters, registered through the public plugin hooks."""

from __future__ import annotations

from recframe import hookimpl
from recframe_datasets import movielens, ncf, splitters, synthetic


@hookimpl
def register_data_sources(register):
    register("ml-100k", movielens.MovieLens100K, aliases=["movielens-100k"])
    register("synthetic", synthetic.SyntheticSource)
    register("ncf-ml-1m", ncf.NCFLeaveOneOut)


@hookimpl
def register_splitters(register):
    register("random_ratio", splitters.random_ratio)
    register("ncf_loo", ncf.ncf_loo)
