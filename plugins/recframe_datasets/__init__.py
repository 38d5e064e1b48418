"""Built-in data sources and splitters, registered through the public plugin hooks."""

from __future__ import annotations

from pathlib import Path

from recframe.api import Register, RegisterDir, hookimpl


@hookimpl
def register_data_sources(register: Register) -> None:
    register("ml-100k", "recframe_datasets.movielens:MovieLens100K", aliases=["movielens-100k"])
    register("ml-1m", "recframe_datasets.movielens:MovieLens1M", aliases=["movielens-1m"])
    register("ml-10m", "recframe_datasets.movielens:MovieLens10M", aliases=["movielens-10m"])
    register("ml-20m", "recframe_datasets.movielens:MovieLens20M", aliases=["movielens-20m"])
    register("ml-25m", "recframe_datasets.movielens:MovieLens25M", aliases=["movielens-25m"])
    register("ml-32m", "recframe_datasets.movielens:MovieLens32M", aliases=["movielens-32m"])
    register("ml-latest-small", "recframe_datasets.movielens:MovieLensLatestSmall", aliases=["movielens-latest-small"])
    register("user-lists", "recframe_datasets.lightgcn:UserListSplit", aliases=["lightgcn-lists", "ngcf-lists"])
    register("gowalla-lightgcn", "recframe_datasets.lightgcn:GowallaLightGCN")
    register("lastfm-lightgcn", "recframe_datasets.lightgcn:LastFMLightGCN")
    register("sequence-lines", "recframe_datasets.sequences:SequenceLines")
    register("amazon-beauty", "recframe_datasets.sequences:AmazonBeauty", aliases=["beauty"])
    register("amazon-sports", "recframe_datasets.sequences:AmazonSports", aliases=["sports"])
    register("amazon-toys", "recframe_datasets.sequences:AmazonToys", aliases=["toys"])
    register("yelp", "recframe_datasets.sequences:Yelp")
    register("lastfm", "recframe_datasets.sequences:LastFM", aliases=["lastfm-s3rec"])
    register("table", "recframe_datasets.generic:Table", aliases=["csv", "parquet"])
    register("recbole-atomic", "recframe_datasets.recbole:RecBoleAtomic", aliases=["atomic"])
    register("synthetic", "recframe_datasets.synthetic:SyntheticSource")
    register("ncf-ml-1m", "recframe_datasets.ncf:NCFLeaveOneOut")


@hookimpl
def register_filters(register: Register) -> None:
    register("min_rating", "recframe_datasets.filters:min_rating")
    register("dedup", "recframe_datasets.filters:dedup")
    register("kcore", "recframe_datasets.filters:kcore")


@hookimpl
def register_splitters(register: Register) -> None:
    register("random_ratio", "recframe_datasets.splitters:random_ratio")
    register("temporal_ratio", "recframe_datasets.splitters:temporal_ratio")
    register("leave_one_out", "recframe_datasets.splitters:leave_one_out", aliases=["loo"])
    register("leave_last_k", "recframe_datasets.splitters:leave_last_k")
    register("predefined", "recframe_datasets.splitters:predefined")
    register("cold_items", "recframe_datasets.splitters:cold_items")
    register("ncf_loo", "recframe_datasets.ncf:ncf_loo")


@hookimpl
def register_config_dirs(register: RegisterDir) -> None:
    register(Path(__file__).parent / "conf")  # this plugin's config groups (model/, data/, ...)
