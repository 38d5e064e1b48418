"""Built-in data sources and splitters, registered through the public plugin hooks."""

from __future__ import annotations

from recframe.api import hookimpl
from recframe_datasets import generic, lightgcn, movielens, ncf, recbole, sequences, splitters, synthetic


@hookimpl
def register_data_sources(register):
    register("ml-100k", movielens.MovieLens100K, aliases=["movielens-100k"])
    register("ml-1m", movielens.MovieLens1M, aliases=["movielens-1m"])
    register("ml-10m", movielens.MovieLens10M, aliases=["movielens-10m"])
    register("ml-20m", movielens.MovieLens20M, aliases=["movielens-20m"])
    register("ml-25m", movielens.MovieLens25M, aliases=["movielens-25m"])
    register("ml-32m", movielens.MovieLens32M, aliases=["movielens-32m"])
    register("ml-latest-small", movielens.MovieLensLatestSmall, aliases=["movielens-latest-small"])
    register("user-lists", lightgcn.UserListSplit, aliases=["lightgcn-lists", "ngcf-lists"])
    register("gowalla-lightgcn", lightgcn.GowallaLightGCN)
    register("lastfm-lightgcn", lightgcn.LastFMLightGCN)
    register("sequence-lines", sequences.SequenceLines)
    register("amazon-beauty", sequences.AmazonBeauty, aliases=["beauty"])
    register("amazon-sports", sequences.AmazonSports, aliases=["sports"])
    register("amazon-toys", sequences.AmazonToys, aliases=["toys"])
    register("yelp", sequences.Yelp)
    register("lastfm", sequences.LastFM, aliases=["lastfm-s3rec"])
    register("table", generic.Table, aliases=["csv", "parquet"])
    register("recbole-atomic", recbole.RecBoleAtomic, aliases=["atomic"])
    register("synthetic", synthetic.SyntheticSource)
    register("ncf-ml-1m", ncf.NCFLeaveOneOut)


@hookimpl
def register_splitters(register):
    register("random_ratio", splitters.random_ratio)
    register("temporal_ratio", splitters.temporal_ratio)
    register("leave_one_out", splitters.leave_one_out, aliases=["loo"])
    register("leave_last_k", splitters.leave_last_k)
    register("predefined", splitters.predefined)
    register("cold_items", splitters.cold_items)
    register("ncf_loo", ncf.ncf_loo)
