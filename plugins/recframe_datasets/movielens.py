"""GroupLens MovieLens datasets (F. M. Harper & J. A. Konstan, *The MovieLens Datasets: History and
Context*, ACM TiiS 5(4), 2015, doi 10.1145/2827872; https://grouplens.org/datasets/movielens/).

Layouts:

* 100K: ``u.data`` (``user<TAB>item<TAB>rating<TAB>timestamp``), ``u.user``
  (``id|age|gender|occupation|zip``), ``u.item`` (``id|title|release date|video date|url|19 genre
  flags``, Latin-1). ``fold: u1``..``u5``, ``ua`` or ``ub`` loads GroupLens's official split
  (``<fold>.base`` / ``<fold>.test``) as ``split_labels`` for the ``predefined`` splitter.
* 1M: ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``), ``users.dat``
  (``UserID::Gender::Age::Occupation::Zip-code``), ``movies.dat`` (``MovieID::Title::Genres``), all
  Latin-1.
* 10M: ``ratings.dat`` and ``movies.dat`` as 1M (half-star ratings, no ``users.dat``), UTF-8.
* 20M, 25M, 32M, latest-small: ``ratings.csv`` (``userId,movieId,rating,timestamp`` with a header)
  and ``movies.csv`` (``movieId,title,genres``, quoted titles), UTF-8.

Item features everywhere: ``title``, ``year`` (from the ``(YYYY)`` at the end of the title, or the
release date in 100K; missing years are ``<NA>``) and ``genres`` (``|``-joined). 100K and 1M also
carry user features (``gender``, ``age``, ``occupation``, ``zip``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recframe.api import TEST, TRAIN, Interactions
from recframe.api import numeric_column, read_delimited, read_split_lines
from recframe.api import DataSource, Download
from recframe.api import ConfigError, DataError

ML100K_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]
RATING_COLUMNS = ["user", "item", "rating", "timestamp"]
RATING_DTYPES = {"user": "int64", "item": "int64", "rating": "float32", "timestamp": "int64"}
GROUPLENS = "https://files.grouplens.org/datasets/movielens/"


def read_table(path, sep: str, names: list[str], encoding: str = "utf-8", **kwargs) -> pd.DataFrame:
    """Read a headerless delimited file; a malformed line is a one-line error naming file and line."""
    return read_delimited(path, sep, names, encoding=encoding, **kwargs)


def ratings_to_interactions(ratings: pd.DataFrame, source: str) -> Interactions:
    """Dense-id interactions from a ``user, item, rating, timestamp`` frame (raw ids kept, sorted)."""
    return Interactions.from_raw(
        ratings["user"].to_numpy(),
        ratings["item"].to_numpy(),
        rating=ratings["rating"].to_numpy(np.float32),
        timestamp=ratings["timestamp"].to_numpy(np.int64),
        meta={"source": source},
    )


def check_ratings(data: Interactions, path: Path) -> None:
    """A NaN rating is malformed input (pandas reads an empty field as NaN); name its line."""
    if data.rating is not None and np.isnan(data.rating).any():
        numeric_column(pd.Series(data.rating), path, "rating")


def movie_features(movies: pd.DataFrame, item_ids: np.ndarray) -> pd.DataFrame:
    """``item, title, year, genres`` rows aligned with dense item ids (unlisted items get NaN)."""
    movies = movies.assign(item=pd.to_numeric(movies["item"]).astype("int64"))
    year = movies["title"].str.extract(r"\((\d{4})\)\s*$", expand=False)
    movies = movies.assign(title=movies["title"].str.strip(), year=pd.to_numeric(year).astype("Int64"))
    table = movies[["item", "title", "year", "genres"]].drop_duplicates("item").set_index("item")
    return table.reindex(item_ids).rename_axis("item").reset_index()


class MovieLens100K(DataSource):
    """MovieLens 100K with user (age, gender, occupation, zip) and item (title, year, genres) features."""

    files = ("u.data", "u.user", "u.item")
    homepage = "https://grouplens.org/datasets/movielens/100k/"
    download = Download(
        GROUPLENS + "ml-100k.zip",
        {
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
        },
        archive_root="ml-100k",
    )
    folds = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")

    def __init__(self, path, fold: str | None = None) -> None:
        if fold is not None and fold not in self.folds:
            raise ConfigError(
                f"data.fold '{fold}' is not one of the official ML-100K splits: {', '.join(self.folds)} (or null)"
            )
        super().__init__(path, fold=fold)
        self.fold = fold
        if fold:
            self.files = (*type(self).files, f"{fold}.base", f"{fold}.test")

    def load(self) -> Interactions:
        data = self._load_all()
        if self.fold:
            data.split_labels = self._fold_labels(data)
        return data

    def _fold_labels(self, data: Interactions) -> np.ndarray:
        """``int8[N]``: 2 for the rows of ``<fold>.test``, 0 for the rest; the fold must partition u.data."""
        test = read_table(self.path / f"{self.fold}.test", "\t", RATING_COLUMNS, dtype=RATING_DTYPES)
        base = read_table(self.path / f"{self.fold}.base", "\t", RATING_COLUMNS, dtype=RATING_DTYPES)
        u = np.searchsorted(data.user_ids, test["user"].to_numpy())
        i = np.searchsorted(data.item_ids, test["item"].to_numpy())
        is_test = np.isin(
            data.user * data.n_items + data.item,
            np.minimum(u, data.n_users - 1) * data.n_items + np.minimum(i, data.n_items - 1),
        )
        if int(is_test.sum()) != len(test) or len(base) + len(test) != len(data):
            raise DataError(
                f"{self.path}/{self.fold}.base and {self.fold}.test do not partition u.data "
                f"({len(base)} + {len(test)} rows, {int(is_test.sum())} test rows found in {len(data)})"
            )
        return np.where(is_test, TEST, TRAIN).astype(np.int8)

    def _load_all(self) -> Interactions:
        ratings = read_table(self.path / "u.data", "\t", RATING_COLUMNS, dtype=RATING_DTYPES)
        users = read_table(
            self.path / "u.user", "|", ["user", "age", "gender", "occupation", "zip"], dtype={"zip": str}
        )
        items = read_table(
            self.path / "u.item",
            "|",
            ["item", "title", "release_date", "video_date", "url", *ML100K_GENRES],
            encoding="latin-1",
            required=["item", "title"],
        )
        data = ratings_to_interactions(ratings, "ml-100k")
        data.user_features = users.set_index("user").reindex(data.user_ids).rename_axis("user").reset_index()
        items["year"] = pd.to_datetime(items["release_date"], format="%d-%b-%Y", errors="coerce").dt.year.astype(
            "Int64"
        )
        flags = items[ML100K_GENRES].to_numpy() == 1
        names = np.array(ML100K_GENRES, dtype=object)
        items["genres"] = ["|".join(names[row]) for row in flags]  # 1,682 movies, not interactions
        data.item_features = (
            items[["item", "title", "year", "genres"]]
            .set_index("item")
            .reindex(data.item_ids)
            .rename_axis("item")
            .reset_index()
        )
        return data


def load_dat_ratings_and_movies(path, encoding: str, label: str) -> Interactions:
    """``ratings.dat`` and ``movies.dat`` (``::``-separated, as in ML-1M and ML-10M) with item features."""
    ratings_file = path / "ratings.dat"
    ratings = read_table(ratings_file, "::", RATING_COLUMNS, encoding=encoding, dtype=RATING_DTYPES)
    data = ratings_to_interactions(ratings, label)
    check_ratings(data, ratings_file)
    movies = read_split_lines(path / "movies.dat", "::", ["item", "title", "genres"], encoding=encoding)
    data.item_features = movie_features(movies, data.item_ids)
    return data


class MovieLens1M(DataSource):
    """MovieLens 1M: 1,000,209 ratings of 3,706 movies by 6,040 users, with user and movie side info.

    ``users.dat`` gives ``gender`` (M/F), ``age`` (a bracket code: 1, 18, 25, 35, 45, 50, 56),
    ``occupation`` (a code 0-20, see the GroupLens README) and ``zip`` (a string).
    """

    files = ("ratings.dat", "users.dat", "movies.dat")
    homepage = "https://grouplens.org/datasets/movielens/1m/"
    # movies.dat and users.dat are GroupLens's originals (their sha256 are the ones listed in the
    # local ml-1m README, which copied them byte for byte). The local ratings.dat is a rebuild whose
    # hash differs from GroupLens's, and the original's sha256 is not known here (only its git blob
    # id, 77a7c4b150f588c23bb9e1f068aa996c0b413695), so ratings.dat is extracted but not verified.
    download = Download(
        GROUPLENS + "ml-1m.zip",
        {
            "movies.dat": "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9",
            "users.dat": "1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3",
        },
        archive_root="ml-1m",
    )

    def __init__(self, path, encoding: str = "latin-1") -> None:
        super().__init__(path, encoding=encoding)
        self.encoding = encoding

    def load(self) -> Interactions:
        data = load_dat_ratings_and_movies(self.path, self.encoding, "ml-1m")
        users = read_split_lines(
            self.path / "users.dat", "::", ["user", "gender", "age", "occupation", "zip"], encoding=self.encoding
        )
        for col in ("user", "age", "occupation"):
            users[col] = numeric_column(users[col], self.path / "users.dat", col, integer=True)
        data.user_features = users.set_index("user").reindex(data.user_ids).rename_axis("user").reset_index()
        return data


class MovieLens10M(DataSource):
    """MovieLens 10M (``ml-10M100K``): ``::``-separated ``ratings.dat`` and ``movies.dat``, no user file."""

    files = ("ratings.dat", "movies.dat")
    homepage = "https://grouplens.org/datasets/movielens/10m/"
    # GroupLens publishes no per-file sha256; the files are extracted unverified (logged).
    download = Download(GROUPLENS + "ml-10m.zip", {}, archive_root="ml-10M100K")

    def __init__(self, path, encoding: str = "utf-8") -> None:
        super().__init__(path, encoding=encoding)
        self.encoding = encoding

    def load(self) -> Interactions:
        return load_dat_ratings_and_movies(self.path, self.encoding, "ml-10m")


class MovieLensCSV(DataSource):
    """MovieLens 20M/25M/32M/latest(-small): ``ratings.csv`` and ``movies.csv`` with headers."""

    files = ("ratings.csv", "movies.csv")
    homepage = "https://grouplens.org/datasets/movielens/"
    label = "ml-csv"

    def __init__(self, path, encoding: str = "utf-8") -> None:
        super().__init__(path, encoding=encoding)
        self.encoding = encoding

    def load(self) -> Interactions:
        ratings_file = self.path / "ratings.csv"
        ratings = read_delimited(
            ratings_file, ",", RATING_COLUMNS, header=True, encoding=self.encoding, dtype=RATING_DTYPES
        )
        data = ratings_to_interactions(ratings, self.label)
        check_ratings(data, ratings_file)
        movies = read_delimited(
            self.path / "movies.csv",
            ",",
            ["item", "title", "genres"],
            header=True,
            encoding=self.encoding,
            quote=True,
            dtype={"item": "int64", "title": str, "genres": str},
            required=["item"],
        )
        data.item_features = movie_features(movies, data.item_ids)
        return data


def _csv_release(name: str, archive: str, homepage: str) -> type[MovieLensCSV]:
    """A :class:`MovieLensCSV` subclass for one release (its own download URL and label)."""
    # GroupLens publishes no per-file sha256 for these archives; files are extracted unverified (logged).
    return type(
        f"MovieLens{name.split('-', 1)[1].title().replace('-', '')}",
        (MovieLensCSV,),
        {
            "label": name,
            "homepage": homepage,
            "__module__": __name__,
            "__doc__": f"MovieLens {name[3:]} (``ratings.csv``, ``movies.csv``).",
            "download": Download(GROUPLENS + f"{archive}.zip", {}, archive_root=archive),
        },
    )


MovieLens20M = _csv_release("ml-20m", "ml-20m", "https://grouplens.org/datasets/movielens/20m/")
MovieLens25M = _csv_release("ml-25m", "ml-25m", "https://grouplens.org/datasets/movielens/25m/")
MovieLens32M = _csv_release("ml-32m", "ml-32m", "https://grouplens.org/datasets/movielens/32m/")
MovieLensLatestSmall = _csv_release(
    "ml-latest-small", "ml-latest-small", "https://grouplens.org/datasets/movielens/latest/"
)
