"""Experiments on pandas DataFrames: ``recframe.run(data=df)`` and :class:`Experiment`.

Users of Cornac and Microsoft Recommenders hold their interactions in a DataFrame. This module turns
one DataFrame (split by the protocol) or a dict of ``train`` / ``valid`` / ``test`` DataFrames (kept
as given, ``protocol=presplit``) into a normal run of the ``table`` data source::

    exp = recframe.Experiment(ratings_df, model="itemknn", protocol="random_811", overrides=["seed=1"])
    fitted = exp.fit()
    fitted.results["metrics"]["test/ndcg@10"]
    fitted.model.recommend(user=196, k=10)          # the loadable model (recframe.load of the run)

The frames are written once, as Parquet, into the run folder's own ``input/`` folder (the run's
record of its data; nothing else is written anywhere: the parsed-data cache is off for these runs).
The run folder is the one the CLI would use, with a content hash of the frames standing in for the
data folder, so the same frames and choices land in the same place (and ``resume=true`` finds it) and
different frames never share one. Column roles default to the columns named ``user``, ``item``,
``rating``, ``timestamp`` (or ``user_id``, ``item_id``, ...); ``columns=`` maps them otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recframe.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from recframe.serving.handle import LoadedModel

PARTS = ("train", "valid", "test")
ROLE_NAMES = {
    "user": ("user", "user_id", "userId", "userID"),
    "item": ("item", "item_id", "itemId", "itemID", "movie_id", "movieId"),
    "rating": ("rating", "ratings", "score"),
    "timestamp": ("timestamp", "ts", "time"),
}
INPUT = "input"  # recframe.run_state keeps this folder across runs (the run's data, not an output)


def as_frames(data: Any) -> dict[str, pd.DataFrame]:
    """``{"all": df}`` for one DataFrame, or ``{"train": .., "test": .., ["valid": ..]}`` for a dict of them."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return {"all": data}
    if isinstance(data, Mapping):
        unknown = [k for k in data if k not in PARTS]
        if unknown:
            raise ConfigError(f"data[{unknown[0]!r}]: the dict of DataFrames takes the keys train, valid, test")
        for need in ("train", "test"):
            if need not in data:
                raise ConfigError(f"data: the dict of DataFrames needs {need!r} (train and test; valid optional)")
        for key, frame in data.items():
            if not isinstance(frame, pd.DataFrame):
                raise ConfigError(f"data[{key!r}] must be a pandas DataFrame, got {type(frame).__name__}")
        return {k: data[k] for k in PARTS if k in data}
    raise ConfigError(
        f"data must be a pandas DataFrame or a dict of train/valid/test DataFrames, got {type(data).__name__}"
    )


def column_roles(frame: pd.DataFrame, columns: Mapping[str, str] | None) -> dict[str, str]:
    """Role -> column of ``frame``: the ``columns`` given, else the first conventional name present."""
    have = [str(c) for c in frame.columns]
    if columns:
        roles = {str(k): str(v) for k, v in columns.items() if v is not None}
        for role, col in roles.items():
            if role not in ROLE_NAMES:
                raise ConfigError(f"columns[{role!r}] is not a role; roles are {', '.join(ROLE_NAMES)}")
            if col not in have:
                raise ConfigError(
                    f"columns[{role!r}]: the DataFrame has no column {col!r} (columns: {', '.join(have[:12])})"
                )
    else:
        roles = {}
        for role, names in ROLE_NAMES.items():
            found = next((n for n in names if n in have), None)
            if found is not None:
                roles[role] = found
    for role in ("user", "item"):
        if role not in roles:
            raise ConfigError(
                f"the DataFrame has no {role} column (columns: {', '.join(have[:12])}); name it "
                f"{ROLE_NAMES[role][0]!r} or pass columns={{'{role}': '<column>'}}"
            )
    return roles


def frames_digest(frames: Mapping[str, pd.DataFrame], roles: Mapping[str, str]) -> str:
    """12 hex digits identifying the frames' content in the mapped columns, or in every column when
    ``roles`` is empty (pandas' row hashes)."""
    import pandas as pd

    digest = hashlib.sha256()
    for name, frame in frames.items():
        digest.update(name.encode())
        mapped = frame[list(roles.values())] if roles else frame  # no roles: every column
        rows = pd.util.hash_pandas_object(mapped.astype(str) if not roles else mapped, index=False).to_numpy()
        digest.update(rows.tobytes())
    return digest.hexdigest()[:12]


def data_overrides(frames: Mapping[str, pd.DataFrame], roles: Mapping[str, str], folder: str | Path) -> list[str]:
    """The ``data=table`` overrides that read the written frames from ``folder``."""
    quoted = str(folder).replace("\\", "\\\\").replace("'", "\\'")  # a run folder's name holds '=' and ','
    out = ["data=table", f"data.path='{quoted}'", "data_cache=false"]
    out += [f"data.columns.{role}={roles.get(role, 'null')}" for role in ROLE_NAMES]
    if "all" in frames:
        out.append("data.file=all.parquet")
    else:
        out += ["data.file=null", *(f"data.{name}={name}.parquet" for name in frames)]
    return out


def write_frames(frames: Mapping[str, pd.DataFrame], roles: Mapping[str, str], folder: Path) -> None:
    """Each frame's mapped columns as ``<folder>/<part>.parquet``, written atomically."""
    from recframe.atomic import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        with atomic_path(folder / f"{name}.parquet") as tmp:
            frame[list(dict.fromkeys(roles.values()))].to_parquet(tmp, index=False)


def check_feature_frame(side: str, frame: Any, roles: Mapping[str, str]) -> str:
    """The id column of a ``user_features`` / ``item_features`` frame (the interactions' column name)."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"{side}_features must be a pandas DataFrame, got {type(frame).__name__}")
    id_col = roles[side]
    if id_col not in frame.columns:
        raise ConfigError(
            f"{side}_features: no {id_col!r} column (the interactions' {side} column) among "
            f"{', '.join(map(str, frame.columns[:12]))}"
        )
    return id_col


def feature_overrides(sides: Mapping[str, pd.DataFrame | None], roles: Mapping[str, str], folder: Path) -> list[str]:
    """Write each side's feature frame as ``<folder>/<side>_features.csv``; the overrides that join it.

    The frame's id column has the name of the interactions' ``user`` (or ``item``) column.
    """

    from recframe.atomic import atomic_path

    out = []
    for side, frame in sides.items():
        if frame is None:
            continue
        id_col = check_feature_frame(side, frame, roles)
        with atomic_path(folder / f"{side}_features.csv") as tmp:
            frame.to_csv(tmp, index=False)
        out.append(f"data.{side}_features={{file: {side}_features.csv, id: {id_col}}}")
    return out


#: ``data.*`` keys a DataFrame run takes from its caller (the rest come from the frames).
CALLER_DATA_KEYS = ("data.features",)


def run_frames(
    data: Any,
    overrides: Sequence[str] = (),
    *,
    columns: Mapping[str, str] | None = None,
    user_features: pd.DataFrame | None = None,
    item_features: pd.DataFrame | None = None,
    run_dir: str | Path | None = None,
    print_table: bool = False,
) -> tuple[dict[str, Any], Path]:
    """Run one experiment on DataFrames; ``(results, run folder)``. See the module docstring.

    ``user_features`` / ``item_features``: one row per user / item, the id in a column named as the
    interactions' user / item column; every other column is a feature (``data.features`` declares the
    fields the context models read).
    """
    from recframe import config as rconfig
    from recframe.runner import run

    frames = as_frames(data)
    roles = column_roles(next(iter(frames.values())), columns)
    for frame in frames.values():
        column_roles(frame, roles)  # every part has the mapped columns
    user = list(overrides)
    for o in user:
        key = o.split("=", 1)[0].lstrip("+~")
        if key.split(".")[0] == "data" and not key.startswith(CALLER_DATA_KEYS):
            raise ConfigError(f"{key}=...: the data come from the DataFrame argument; drop the data overrides")
    split = [] if "all" in frames or any(o.startswith("protocol=") for o in user) else ["protocol=presplit"]
    sides = {"user": user_features, "item": item_features}
    for side, frame in sides.items():
        if frame is not None:
            check_feature_frame(side, frame, roles)  # before anything is written
    if run_dir is None:  # the CLI's folder for these choices, with the frames' digest as the data level
        cli_dir = Path(str(rconfig.compose(["data=table", *split, *user]).hydra.run.dir))
        digest = frames_digest({**frames, **{k: v for k, v in sides.items() if v is not None}}, {})
        run_dir = cli_dir.parents[2] / f"dataframe-{digest}" / cli_dir.parent.name / cli_dir.name
    target = Path(run_dir).resolve()
    write_frames(frames, roles, target / INPUT)
    features = feature_overrides(sides, roles, target / INPUT)
    results = run(
        [*data_overrides(frames, roles, target / INPUT), *features, *split, *user],
        run_dir=target,
        print_table=print_table,
    )
    return results, target


@dataclass
class Fitted:
    """What :meth:`Experiment.fit` returns: the run's results, its folder and the loadable model."""

    results: dict[str, Any]
    run_dir: Path

    @property
    def metrics(self) -> dict[str, float]:
        """``"<part>/<metric>"`` -> value, as in ``results.json``."""
        return dict(self.results["metrics"])

    @property
    def model(self) -> LoadedModel:
        """The fitted model, loaded from the run folder (:func:`recframe.load`)."""
        from recframe.serving.handle import load

        return load(self.run_dir)


class Experiment:
    """One experiment on DataFrames: data, a model, a protocol and any other config choices.

    Args:
        data: a DataFrame of interactions (split by ``protocol``), or ``{"train": df, "test": df,
            "valid": df}`` (kept as given; ``valid`` optional).
        model, protocol: config choices (``model=<name>``, ``protocol=<name>``); ``None`` keeps the default
            (``protocol=presplit`` for a dict of frames).
        overrides: further overrides as on the command line (``"model.k=50"``, ``"trainer.max_epochs=5"``).
        columns: role -> column (``{"user": "uid", "item": "sku"}``) when the names are not conventional.
        run_dir: the run folder; by default the CLI's, named after the frames' content.
        user_features, item_features: side-feature DataFrames, the id in a column named as the
            interactions' user / item column (see :func:`run_frames`).
    """

    def __init__(
        self,
        data: Any,
        model: str | None = None,
        protocol: str | None = None,
        overrides: Sequence[str] = (),
        columns: Mapping[str, str] | None = None,
        run_dir: str | Path | None = None,
        user_features: pd.DataFrame | None = None,
        item_features: pd.DataFrame | None = None,
    ) -> None:
        self.frames = as_frames(data)
        self.user_features, self.item_features = user_features, item_features
        self.roles = column_roles(next(iter(self.frames.values())), columns)
        if isinstance(overrides, str):
            raise ConfigError("overrides must be a list of strings such as ['seed=1'], not one string")
        choices = [f"model={model}"] if model else []
        choices += [f"protocol={protocol}"] if protocol else []
        self.overrides = [*choices, *overrides]
        self.run_dir = run_dir

    def fit(self, print_table: bool = False) -> Fitted:
        """Run the experiment; the results, the run folder and the loadable model."""
        results, run_dir = run_frames(
            self.frames if "all" not in self.frames else self.frames["all"],
            self.overrides,
            columns=self.roles,
            user_features=self.user_features,
            item_features=self.item_features,
            run_dir=self.run_dir,
            print_table=print_table,
        )
        return Fitted(results, run_dir)


__all__ = ["Experiment", "Fitted", "run_frames"]
