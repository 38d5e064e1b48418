"""Every config file in the tree composes and passes validation; run directories are deterministic."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from recframe import config as rconfig
from recframe.plugins import registries

CONF = Path(__file__).resolve().parents[1] / "conf"
# the core tree and the config folders the built-in plugins ship (model/, data/, loss/, ...)
ROOTS = [CONF, *(path for plugin, path in registries().config_dirs if registries().plugins[plugin].builtin)]
# groups whose files are selected as `group=option`; hydra/ is Hydra's own node
GROUPS = sorted(
    {
        p.name
        for root in ROOTS
        for p in root.iterdir()
        if p.is_dir() and p.name != "hydra" and not p.name.startswith("_")
    }
)


def nested_groups(group_dir: Path) -> set[str]:
    """Sub-folders of a group that its own files select as groups (trainer/optim, trainer/sampling, ...)."""
    names: set[str] = set()
    for f in group_dir.glob("*.yaml"):
        for entry in OmegaConf.load(f).get("defaults", []) or []:
            if hasattr(entry, "keys"):
                names.update(str(k) for k in entry.keys())
    return names


def options():
    for group in GROUPS:
        for root in ROOTS:
            group_dir = root / group
            if not group_dir.is_dir():
                continue
            nested = nested_groups(group_dir)
            for f in sorted(group_dir.rglob("*.yaml")):
                parts = f.relative_to(group_dir).with_suffix("").parts
                if any(part.startswith("_") for part in parts):
                    continue
                if len(parts) == 2 and parts[0] in nested:  # an option of a nested group
                    yield f"{group}/{parts[0]}", parts[1]
                else:
                    yield group, "/".join(parts)


# options that only make sense beside another choice (pointwise CTR metrics need a protocol without ranking)
COMPANIONS = {("metrics", "ctr"): ["protocol=recbole_ml1m_ctr"], ("protocol", "recbole_ml1m_ctr"): ["metrics=ctr"]}


def in_root_defaults(group: str) -> bool:
    return any(
        group in entry
        for entry in OmegaConf.load(CONF / "config.yaml").defaults
        if isinstance(entry, (dict, type(OmegaConf.create({}))))
    )


@pytest.mark.parametrize("group, option", list(options()))
def test_every_config_file_composes(group, option):
    # a group the composition root does not list (size_family: chosen by the size sweep) is appended
    select = f"{group}={option}" if "/" in group or in_root_defaults(group) else f"+{group}={option}"
    cfg = rconfig.compose([select, *COMPANIONS.get((group, option), [])])
    rconfig.validate(cfg)
    assert cfg.data.name and cfg.model.name and cfg.protocol.valid_metric


def test_the_tree_has_every_group_of_the_composition_root():
    root = OmegaConf.load(CONF / "config.yaml")
    groups = {next(iter(d)) for d in root.defaults if isinstance(d, dict) or hasattr(d, "keys")}
    assert {
        "data",
        "protocol",
        "model",
        "loss",
        "trainer",
        "metrics",
        "logger",
        "compressor",
        "experiment",
        "hparams_search",
        "hydra",
        "paths",
    } <= groups
    assert root.defaults[0] == "_self_"


def test_run_directory_is_deterministic_and_names_the_overrides():
    from hydra.core.hydra_config import HydraConfig

    cfg = rconfig.compose(["model=bpr", "trainer.lr=0.01", "seed=3"])
    HydraConfig.instance().set_config(cfg)
    run_dir = Path(str(cfg.hydra.run.dir))
    assert run_dir.as_posix().endswith("runs/default/ml-100k/bpr/seed=3,trainer.lr=0.01")
    again = rconfig.compose(["trainer.lr=0.01", "seed=3", "model=bpr"])
    HydraConfig.instance().set_config(again)
    assert Path(str(again.hydra.run.dir)) == run_dir
    plain = rconfig.compose([])
    HydraConfig.instance().set_config(plain)
    assert str(plain.hydra.run.dir).endswith("runs/default/ml-100k/bpr/default")


def test_config_hash_ignores_run_switches_but_not_hyperparameters():
    base = rconfig.config_hash(rconfig.compose([]))
    assert rconfig.config_hash(rconfig.compose(["resume=true", "trainer.progress_bar=false"])) == base
    assert rconfig.config_hash(rconfig.compose(["trainer.lr=0.01"])) != base


def test_config_tree_is_installed_with_the_package():
    import importlib.resources

    files = importlib.resources.files("recframe.conf")
    assert (files / "config.yaml").is_file() and (files / "protocol" / "random_811.yaml").is_file()
    assert (files / "_shared" / "protocol.yaml").is_file() and (files / "trainer" / "optim" / "adam.yaml").is_file()
    # the built-in plugins ship their own groups beside their code
    assert (importlib.resources.files("recframe_cf") / "conf" / "model" / "bpr.yaml").is_file()
    assert (importlib.resources.files("recframe_datasets") / "conf" / "data" / "ml-100k.yaml").is_file()


def test_builtin_plugins_register_their_config_folders():
    dirs = {plugin: path for plugin, path in registries().config_dirs}
    for plugin, group in [
        ("cf", "model"),
        ("datasets", "data"),
        ("losses", "loss"),
        ("metrics", "metrics"),
        ("distill", "compressor"),
        ("content", "model"),
        ("context", "model"),
        ("sequential", "model"),
    ]:
        assert (dirs[plugin] / group).is_dir(), (plugin, group)
    assert not (CONF / "model").exists() and not (CONF / "data").exists()


def test_trainer_subgroups_select_presets_and_keep_flat_keys():
    cfg = rconfig.compose(["trainer/optim=sgd", "trainer.lr=0.05", "trainer/sampling=popularity"])
    assert (cfg.trainer.optimizer, cfg.trainer.lr, cfg.trainer.weight_decay) == ("sgd", 0.05, 0.0)
    assert (cfg.trainer.negative_sampling, cfg.trainer.num_negatives) == ("popularity", 1)
    assert cfg.trainer.patience == 10 and cfg.trainer.max_epochs == 100
    assert not any(key in cfg.trainer for key in ("optim", "sampling", "stopping"))


def test_protocols_share_common_keys_through_defaults():
    shared = OmegaConf.load(CONF / "_shared" / "protocol.yaml")
    for f in sorted((CONF / "protocol").glob("*.yaml")):
        own = OmegaConf.load(f)
        assert list(own.defaults) == ["/_shared/protocol@_here_", "_self_"], f.name
        restated = [k for k in own if k not in ("defaults", "name", "split") and k in shared and own[k] == shared[k]]
        assert restated == [], f"{f.name} restates shared values: {restated}"


@pytest.mark.parametrize(
    "family, data, protocol, model",
    [
        ("deepfm_ml1m_ctr", "ml-1m", "recbole_ml1m_ctr", "deepfm"),
        ("sasrec_beauty", "amazon-beauty", "s3rec_loo", "sasrec"),
    ],
)
def test_size_sweep_runs_each_family_under_its_reproduction(family, data, protocol, model):
    from recframe import config as rconfig

    cfg = rconfig.compose(["experiment=balance/size_sweep", f"size_family={family}", "model.embedding_dim=32"])
    assert (cfg.data.name, cfg.protocol.name, cfg.model.name) == (data, protocol, model)
    assert cfg.model.embedding_dim == 32 and cfg.name == "size-sweep"
    params = cfg.hydra.sweeper.params
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN" or str(cfg.hydra.mode) == "MULTIRUN"
    assert params["size_family"] == "deepfm_ml1m_ctr,sasrec_beauty"
    assert params["model.embedding_dim"] == "16,32,64" and params["model.num_layers"] == "1,2,3"
