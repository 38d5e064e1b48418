"""GroupLens MovieLens datasets (Harper & Konstan, ACM TiiS 2015, doi 10.1145/2827872).

MovieLens 100K: ``u.data`` (``user<TAB>item<TAB>rating<TAB>timestamp``), ``u.user``
(``id|age|gender|occupation|zip``) and ``u.item`` (``id|title|release date|video date|url|19 genre
flags``, Latin-1).
"""

from __future__ import annotations

import pandas as pd

from recframe.data.interactions import Interactions
from recframe.data.source import DataSource, Download
from recframe.errors import DataError

ML100K_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                 "War", "Western"]


def read_table(path, sep: str, names: list[str], encoding: str = "utf-8", **kwargs) -> pd.DataFrame:
    """Read a headerless delimited file; a malformed line is a one-line error naming file and line."""
    try:
        return pd.read_csv(path, sep=sep, header=None, names=names, encoding=encoding, engine="c",
                           on_bad_lines="error", **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot parse ({str(exc).splitlines()[0]}); expected {len(names)} fields "
                        f"separated by {sep!r}: {', '.join(names)}") from None


class MovieLens100K(DataSource):
    """MovieLens 100K with user (age, gender, occupation, zip) and item (title, year, genres) features."""

    files = ("u.data", "u.user", "u.item")
    homepage = "https://grouplens.org/datasets/movielens/100k/"
    download = Download(
        "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        {"u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
         "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
         "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701"},
        archive_root="ml-100k")

    def load(self) -> Interactions:
        ratings = read_table(self.path / "u.data", "\t", ["user", "item", "rating", "timestamp"],
                             dtype={"user": "int64", "item": "int64", "rating": "float32", "timestamp": "int64"})
        users = read_table(self.path / "u.user", "|", ["user", "age", "gender", "occupation", "zip"],
                           dtype={"zip": str})
        items = read_table(self.path / "u.item", "|", ["item", "title", "release_date", "video_date", "url",
                                                        *ML100K_GENRES], encoding="latin-1")
        data = Interactions.from_raw(ratings["user"].to_numpy(), ratings["item"].to_numpy(),
                                     rating=ratings["rating"].to_numpy(), timestamp=ratings["timestamp"].to_numpy(),
                                     meta={"source": "ml-100k"})
        data.user_features = users.set_index("user").reindex(data.user_ids).reset_index()
        items["year"] = pd.to_datetime(items["release_date"], format="%d-%b-%Y", errors="coerce").dt.year
        items["genres"] = items[ML100K_GENRES].apply(lambda r: "|".join(g for g, v in r.items() if v == 1), axis=1)
        data.item_features = items[["item", "title", "year", "genres"]].set_index("item").reindex(
            data.item_ids).reset_index()
        return data
