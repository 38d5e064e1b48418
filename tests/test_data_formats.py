"""Every shipped dataset loads by name through conf/data and matches its README; parsers of formats
with no local copy are checked on small files written here."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recframe import config as rconfig
from recframe.data.interactions import TEST, TRAIN
from recframe.runner import load_data
from recframe_datasets.generic import Table
from recframe_datasets.lightgcn import UserListSplit
from recframe_datasets.movielens import MovieLens10M, MovieLens20M, MovieLensLatestSmall
from recframe_datasets.recbole import RecBoleAtomic
from recframe_datasets.sequences import SequenceLines


def load(name: str, *overrides: str):
    return load_data(rconfig.compose([f"data={name}", *overrides]))


# (config, folder, users, items, interactions, train, test) from each folder's README.md
README_COUNTS = [
    ("ml-100k", "ml-100k", 943, 1682, 100_000, None, None),
    ("ml-1m", "ml-1m", 6040, 3706, 1_000_209, None, None),
    ("gowalla-lightgcn", "gowalla-lightgcn", 29_858, 40_981, 1_027_370, 810_128, 217_242),
    ("lastfm-lightgcn", "lastfm-lightgcn", 1880, 4489, 52_668, 42_135, 10_533),
    ("amazon-beauty", "amazon-beauty-s3rec", 22_363, 12_101, 198_502, None, None),
    ("amazon-sports", "amazon-sports-s3rec", 35_598, 18_357, 296_337, None, None),
    ("amazon-toys", "amazon-toys-s3rec", 19_412, 11_924, 167_597, None, None),
    ("yelp", "yelp-s3rec", 30_431, 20_033, 316_354, None, None),
    ("lastfm", "lastfm-s3rec", 1090, 3646, 52_551, None, None),
]


@pytest.mark.parametrize("name, folder, users, items, n, train, test", README_COUNTS, ids=[c[0] for c in README_COUNTS])
def test_every_dataset_loads_by_name_with_readme_counts(data_dir, name, folder, users, items, n, train, test):
    assert (data_dir / folder).is_dir(), f"{data_dir / folder} is missing"
    data = load(name)
    assert data.counts() == {"users": users, "items": items, "interactions": n}
    assert rconfig.compose([f"data={name}"]).data.path.endswith(folder)
    if train is not None:
        assert np.bincount(data.split_labels, minlength=3).tolist() == [train, 0, test]


def test_ml1m_side_information_and_values(data_dir):
    data = load("ml-1m")
    assert np.bincount(data.rating.astype(int), minlength=6)[1:].tolist() == [
        56_174,
        107_557,
        261_197,
        348_971,
        226_310,
    ]
    uf, itf = data.user_features, data.item_features
    assert len(uf) == 6040 and len(itf) == 3706
    first = uf.iloc[0]
    assert (first["user"], first["gender"], first["age"], first["occupation"], first["zip"]) == (1, "F", 1, 10, "48067")
    assert uf.loc[uf["user"] == 4, "zip"].item() == "02460"  # a zip code keeps its leading zero
    toy = itf.loc[itf["item"] == 1].iloc[0]
    assert (toy["title"], toy["year"], toy["genres"]) == ("Toy Story (1995)", 1995, "Animation|Children's|Comedy")
    # Latin-1 titles decode (e.g. "Misérables"); years are always parsed from ML-1M titles
    assert itf["title"].str.contains("é").any()
    assert itf["year"].notna().all()
    # raw ids map back: dense user 0 is UserID 1 and the first line is 1::1193::5::978300760
    row = np.flatnonzero((data.user_ids[data.user] == 1) & (data.item_ids[data.item] == 1193))
    assert data.rating[row].tolist() == [5.0] and data.timestamp[row].tolist() == [978300760]


def test_gowalla_split_is_disjoint_and_every_user_has_test(data_dir):
    data = load("gowalla-lightgcn")
    test_users = np.unique(data.user[data.split_labels == TEST])
    assert len(test_users) == 29_858
    train_deg = np.bincount(data.user[data.split_labels == TRAIN], minlength=data.n_users)
    assert train_deg.min() == 8 and train_deg.max() == 811
    assert data.user_ids.tolist() == list(range(29_858))  # 0-based ids kept as they are


def test_sequences_keep_order_and_attributes(data_dir):
    data = load("amazon-beauty")
    first_line = (data_dir / "amazon-beauty-s3rec" / "Beauty.txt").read_text().splitlines()[0].split()
    rows = np.flatnonzero(data.user_ids[data.user] == int(first_line[0]))
    rows = rows[np.argsort(data.timestamp[rows])]
    assert data.item_ids[data.item[rows]].tolist() == [int(x) for x in first_line[1:]]
    assert data.timestamp[rows].tolist() == list(range(len(first_line) - 1))
    attrs = json.loads((data_dir / "amazon-beauty-s3rec" / "Beauty_item2attributes.json").read_text())
    feats = data.item_features
    some = int(data.item_ids[5])
    assert feats.loc[5, "item"] == some and list(feats.loc[5, "attributes"]) == attrs[str(some)]
    assert len({a for v in feats["attributes"] for a in v}) == 637


def test_yelp_keeps_repeated_items(data_dir):
    data = load("yelp")
    key = data.user * data.n_items + data.item
    assert len(key) - len(np.unique(key)) == 11_830


def test_lastfm_lightgcn_value_column_is_opt_in(data_dir):
    assert load("lastfm-lightgcn").rating is None
    data = load("lastfm-lightgcn", "data.value_as_rating=true")
    assert data.rating.min() >= 1 and data.rating.max() == 324_660


def test_ml10m_dat_files(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::122::5::838985046\n1::185::4.5::838983525\n2::122::0.5::868245777\n")
    (tmp_path / "movies.dat").write_text("122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action\n")
    data = MovieLens10M(tmp_path).load()
    assert data.counts() == {"users": 2, "items": 2, "interactions": 3}
    assert data.rating.tolist() == [5.0, 4.5, 0.5]
    assert data.item_features["title"].tolist() == ["Boomerang (1992)", "Net, The (1995)"]
    assert data.item_features["year"].tolist() == [1992, 1995]


@pytest.mark.parametrize("cls", [MovieLens20M, MovieLensLatestSmall])
def test_ml_csv_releases(tmp_path, cls):
    (tmp_path / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n6,1,3.5,845553522\n"
    )
    (tmp_path / "movies.csv").write_text(
        "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n"
        '3,"American President, The (1995)",Comedy|Drama|Romance\n'
        "9,Untitled,(no genres listed)\n"
    )
    data = cls(tmp_path).load()
    assert data.user_ids.tolist() == [1, 6] and data.item_ids.tolist() == [1, 3]
    assert data.item_features["title"].tolist() == ["Toy Story (1995)", "American President, The (1995)"]
    assert data.timestamp.tolist() == [964982703, 964981247, 845553522]


def test_user_lists_source_on_written_files(tmp_path):
    (tmp_path / "train.txt").write_text("0 1 2 3\n1 2\n2 0 4\n")
    (tmp_path / "test.txt").write_text("0 4\n1 0 1\n2\n")  # user 2 has no test item
    data = UserListSplit(tmp_path).load()
    raw_u, raw_i = data.user_ids[data.user].tolist(), data.item_ids[data.item].tolist()
    pairs = sorted(zip(raw_u, raw_i, data.split_labels.tolist()))
    assert pairs == [(0, 1, 0), (0, 2, 0), (0, 3, 0), (0, 4, 2), (1, 0, 2), (1, 1, 2), (1, 2, 0), (2, 0, 0), (2, 4, 0)]


def test_user_lists_reject_leaking_pairs(tmp_path):
    (tmp_path / "train.txt").write_text("0 1 2\n")
    (tmp_path / "test.txt").write_text("0 2\n")
    with pytest.raises(Exception, match="in both train and test"):
        UserListSplit(tmp_path).load()


def test_sequence_source_on_written_file(tmp_path):
    (tmp_path / "s.txt").write_text("7 30 10 20\n3 10\n")
    data = SequenceLines(tmp_path, file="s.txt").load()
    got = sorted(zip(data.user_ids[data.user].tolist(), data.timestamp.tolist(), data.item_ids[data.item].tolist()))
    assert got == [(3, 0, 10), (7, 0, 30), (7, 1, 10), (7, 2, 20)]
    assert data.item_features is None


def test_generic_csv_tsv_and_parquet_agree(tmp_path):
    frame = pd.DataFrame(
        {"who": ["u2", "u1", "u2"], "what": [10, 20, 20], "stars": [4.5, 3.0, 1.0], "when": [100, 200, 300]}
    )
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_csv(tmp_path / "a.tsv", index=False, sep="\t")
    frame.to_parquet(tmp_path / "a.parquet", index=False)
    cols = {"user": "who", "item": "what", "rating": "stars", "timestamp": "when"}
    loaded = [
        Table(tmp_path, file="a.csv", columns=cols).load(),
        Table(tmp_path, file="a.tsv", columns=cols, sep="\t").load(),
        Table(tmp_path, file="a.parquet", columns=cols).load(),
    ]
    for data in loaded:
        assert data.user_ids.tolist() == ["u1", "u2"] and data.item_ids.tolist() == [10, 20]
        assert data.user_ids[data.user].tolist() == ["u2", "u1", "u2"]
        assert data.rating.tolist() == [4.5, 3.0, 1.0] and data.timestamp.tolist() == [100, 200, 300]


def test_generic_headerless_positions_and_dates(tmp_path):
    (tmp_path / "log.txt").write_text("x 5 a 2024-01-02\ny 6 b 2024-01-01\n")
    data = Table(
        tmp_path,
        file="log.txt",
        sep=" ",
        header=False,
        columns={"user": 2, "item": 1, "timestamp": 3},
        timestamp_format="%Y-%m-%d",
    ).load()
    assert data.user_ids.tolist() == ["a", "b"] and data.item_ids.tolist() == [5, 6]
    assert data.timestamp.tolist() == [1704153600, 1704067200]
    assert data.rating is None


def test_generic_source_through_config(tmp_path, monkeypatch):
    (tmp_path / "events.csv").write_text("u,i,r\n1,1,5\n1,2,3\n2,1,4\n")
    data = load_data(
        rconfig.compose(
            [
                "data.name=table",
                f"data.path={tmp_path}",
                "+data.file=events.csv",
                "+data.columns={user: u, item: i, rating: r}",
            ]
        )
    )
    assert data.counts() == {"users": 2, "items": 2, "interactions": 3}


def test_recbole_atomic_files(tmp_path):
    (tmp_path / "toy.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t1\t878887116\n"
    )
    (tmp_path / "toy.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "242\tKolya\t1996\tComedy\n302\tL.A. Confidential\t1997\tCrime Film-Noir\n"
    )
    (tmp_path / "toy.user").write_text("user_id:token\tage:float\tgender:token\n196\t49\tM\n")
    data = RecBoleAtomic(tmp_path, dataset="toy").load()
    assert data.user_ids.tolist() == [186, 196] and data.item_ids.tolist() == [242, 302]
    assert data.rating.tolist() == [3.0, 3.0, 1.0] and data.timestamp.tolist() == [881250949, 891717742, 878887116]
    assert data.item_features["movie_title"].tolist() == [["Kolya"], ["L.A.", "Confidential"]]
    assert data.item_features["class"].tolist() == [["Comedy"], ["Crime", "Film-Noir"]]
    assert data.user_features["age"].isna().tolist() == [True, False] and data.user_features["age"][1] == 49.0


def test_recbole_atomic_bad_header(tmp_path):
    (tmp_path / "toy.inter").write_text("user_id item_id\n1 2\n")
    with pytest.raises(Exception, match=r"toy.inter, line 1: header field 'user_id item_id' is not 'name:type'"):
        RecBoleAtomic(tmp_path, dataset="toy").load()


def test_lastfm_s3rec_fixed_negatives_become_candidates(data_dir):
    data = load("lastfm")
    assert data.candidates.shape == (1090, 99) and (data.candidates >= 0).all()
    assert data.to_csr()[np.repeat(np.arange(1090), 99), data.candidates.ravel()].sum() == 0  # README: none positive
    first = (data_dir / "lastfm-s3rec" / "LastFM_sample.txt").read_text().splitlines()[0].split()
    u = int(np.searchsorted(data.user_ids, int(first[0])))
    assert data.item_ids[data.candidates[u]].tolist() == [int(x) for x in first[1:]]
    split = load_split_with("lastfm", "protocol=leave_one_out", data=data)
    assert split.candidates is data.candidates  # splitters carry the fixed candidates to evaluation


def load_split_with(name: str, *overrides: str, data=None):
    from recframe.runner import make_split

    cfg = rconfig.compose([f"data={name}", *overrides])
    return make_split(cfg, data if data is not None else load_data(cfg), seed=0)


def test_negatives_that_are_positives_are_rejected(tmp_path):
    (tmp_path / "s.txt").write_text("1 10 11\n2 11 12\n")
    (tmp_path / "neg.txt").write_text("1 12\n2 11\n")
    with pytest.raises(Exception, match=r"neg.txt: 1 negative\(s\) are positives of their user, e.g. user 2 item 11"):
        SequenceLines(tmp_path, file="s.txt", negatives="neg.txt").load()
    (tmp_path / "neg.txt").write_text("1 12\n3 10\n")
    with pytest.raises(Exception, match="neg.txt: user 3 does not occur in the interactions"):
        SequenceLines(tmp_path, file="s.txt", negatives="neg.txt").load()


def test_template_configs_for_own_files(tmp_path):
    (tmp_path / "events.csv").write_text("uid,sku\na,1\nb,2\na,2\n")
    data = load_data(
        rconfig.compose(
            [
                "data=table",
                f"data.path={tmp_path}",
                "data.file=events.csv",
                "data.columns.user=uid",
                "data.columns.item=sku",
            ]
        )
    )
    assert data.counts() == {"users": 2, "items": 2, "interactions": 3}
    (tmp_path / "toy.inter").write_text("user_id:token\titem_id:token\n1\t2\n")
    data = load_data(rconfig.compose(["data=recbole", f"data.path={tmp_path}", "data.dataset=toy"]))
    assert data.counts() == {"users": 1, "items": 1, "interactions": 1} and data.rating is None


@pytest.mark.parametrize("fold, train, test", [("u1", 80_000, 20_000), ("ua", 90_570, 9_430)])
def test_ml100k_official_folds_as_predefined_split(data_dir, fold, train, test):
    data = load("ml-100k", f"+data.fold={fold}")
    assert np.bincount(data.split_labels, minlength=3).tolist() == [train, 0, test]
    lines = (data_dir / "ml-100k" / f"{fold}.test").read_text().splitlines()
    first = [int(x) for x in lines[0].split("\t")]
    row = np.flatnonzero((data.user_ids[data.user] == first[0]) & (data.item_ids[data.item] == first[1]))
    assert data.split_labels[row].tolist() == [TEST]
    if fold == "ua":
        assert (np.bincount(data.user[data.split_labels == TEST]) == 10).all()
    split = load_split_with(
        "ml-100k", f"+data.fold={fold}", "protocol=predefined", "protocol.split.valid=none", data=data
    )
    assert split.counts() == {"train": train, "valid": 0, "test": test}


def test_ml100k_unknown_fold_is_a_config_error(data_dir):
    with pytest.raises(Exception, match="data.fold 'u9' is not one of the official ML-100K splits"):
        load("ml-100k", "+data.fold=u9")
