"""Indicator rule sets (config/indicators/<name>.yaml): their schema, loading and lookup.

The rule set holds every threshold and point value so a province can ship its
own; `load_rules` validates it as strictly as a site file.  The scorer
(`sitecheck.scoring`) and the checks read the loaded `Rules`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .locate import bundled_config_dir, config_dirs
from .schema import REQUIRED, Setting, table
from .validate import ConfigError, Validator, compose, find_node

WHERE = Setting("map", "Detail key -> allowed values; a finding must match every key.", {},
                item=Setting("list", "allowed values", item=Setting("any", "value")))

CONDITION = table("One way a veto item is failed.", {
    "label": Setting("str", "What the condition means (Chinese, shown in reports).", ""),
    "codes": Setting("list", "Finding codes counted.", REQUIRED, item=Setting("str", "finding code"), min=1),
    "where": WHERE,
    "min_count": Setting("int", "The item is vetoed when at least this many findings match.", 1, min=1),
    "estimate": Setting("bool", "The threshold is reported, not confirmed [R].", False),
})

VETO_ITEM = table("A veto item (单项否决).", {
    "title": Setting("str", "Name of the item (Chinese).", REQUIRED),
    "rule": Setting("str", "The rule in words, for reports.", ""),
    "conditions": Setting("list", "Any condition met vetoes the item.", [], item=CONDITION),
    "facts": Setting("list", "Facts whose presence shows the item was checked (else: no data).", [],
                     item=Setting("str", "fact name")),
    "window_days": Setting("int", "Days a check allows (homepage updates, reply time).", None, min=1),
    "lookback_days": Setting("int", "How far back a check looks (messages: one year).", None, min=1),
    "probe_failure_ratio": Setting("float", "Judged from homepage probes: veto at this failed share.", None,
                                   min=0, max=1),
    "probe_window_days": Setting("int", "Rolling window of the probes.", 7, min=1),
    "probes_per_day": Setting("int", "Probes a day the rule expects (fewer is noted).", 20, min=1),
    "estimate": Setting("bool", "The item's thresholds are reported, not confirmed [R].", False),
})

DEDUCTION = table("A deduction item (扣分指标).", {
    "title": Setting("str", "Name of the item (Chinese).", REQUIRED),
    "area": Setting("str", "Area the points come from (a key of `areas`).", REQUIRED),
    "codes": Setting("list", "Finding codes counted.", REQUIRED, item=Setting("str", "finding code"), min=1),
    "where": WHERE,
    "points_each": Setting("float", "Points deducted per finding.", REQUIRED, min=0),
    "max_points": Setting("float", "Most points this item can deduct.", None, min=0),
    "estimate": Setting("bool", "The points are reported, not confirmed [R].", False),
})

CATEGORY = table("A column category.", {
    "window_days": Setting("int", "Days a column of this category may go without a new item.", REQUIRED, min=1),
    "aliases": Setting("list", "Other names a site file may use for the category.", [],
                       item=Setting("str", "name")),
})

RULES_FILE = table("An indicator rule set.", {
    "name": Setting("str", "Rule-set name (the file name without .yaml).", REQUIRED),
    "title": Setting("str", "Title shown in reports.", ""),
    "pass_score": Setting("float", "With no veto, a score below this fails.", 60.0, min=0, max=100),
    "areas": Setting("map", "Deduction areas and their points (out of 100).", {},
                     item=Setting("float", "points", min=0)),
    "categories": Setting("map", "Column categories.", {}, item=CATEGORY),
    "veto": Setting("map", "Veto items by id.", REQUIRED, item=VETO_ITEM),
    "deductions": Setting("map", "Deduction items by id.", {}, item=DEDUCTION),
})


@dataclass
class Rules:
    name: str
    title: str
    pass_score: float
    areas: dict[str, float]
    categories: dict[str, dict[str, Any]]
    veto: dict[str, dict[str, Any]]
    deductions: dict[str, dict[str, Any]]
    path: Path | None = None

    def category(self, name: str) -> str | None:
        """The canonical category for a name or alias, or None."""
        if name in self.categories:
            return name
        for key, cat in self.categories.items():
            if name in cat["aliases"]:
                return key
        return None

    def window_days(self, category: str) -> int | None:
        key = self.category(category)
        return self.categories[key]["window_days"] if key else None

    def veto_param(self, item: str, key: str, default: Any) -> Any:
        value = self.veto.get(item, {}).get(key)
        return default if value is None else value


def rules_path(name_or_path: str | Path, config_dir: Path) -> Path:
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text:
        path = Path(text)
        return path if path.is_absolute() else Path(config_dir) / path
    return Path(config_dir) / "indicators" / f"{text}.yaml"


def load_rules(name_or_path: str | Path, config_dir: str | Path | None = None) -> Rules:
    """Load and validate a rule set (by default from the bundled config); raises ConfigError naming
    file, line and key."""
    config_dir = bundled_config_dir() if config_dir is None else config_dir
    path = rules_path(name_or_path, Path(config_dir))
    if not path.exists():
        known = sorted(p.stem for p in (Path(config_dir) / "indicators").glob("*.yaml"))
        raise ConfigError(path, None, "", f"no rule set {str(name_or_path)!r}",
                          "known rule sets: " + (", ".join(known) or "none"))
    return _load_rules_cached(path.resolve(), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _load_rules_cached(path: Path, _mtime: int) -> Rules:
    node = compose(path)
    if node is None:
        raise ConfigError(path, None, "", "the file is empty", "start with 'name:' and 'veto:'")
    v = Validator(path)
    data = v.table(node, RULES_FILE, "")
    for key, item in data["deductions"].items():
        if data["areas"] and item["area"] not in data["areas"]:
            raise v.error(find_node(node, "deductions", key, "area"), f"deductions.{key}.area",
                          f"unknown area {item['area']!r}", "valid areas: " + ", ".join(data["areas"]))
    names = set(data["categories"]) | {a for c in data["categories"].values() for a in c["aliases"]}
    for key, item in data["veto"].items():
        for i, cond in enumerate(item["conditions"]):
            for cat in cond["where"].get("category", []):
                if cat not in names:
                    raise v.error(find_node(node, "veto", key, "conditions", i, "where"),
                                  f"veto.{key}.conditions[{i}].where.category",
                                  f"unknown category {cat!r}", "valid categories: " + ", ".join(data["categories"]))
    return Rules(name=data["name"], title=data["title"], pass_score=data["pass_score"], areas=data["areas"],
                 categories=data["categories"], veto=data["veto"], deductions=data["deductions"], path=path)


def find_rules(site) -> Path | None:
    """The site's rule-set file, or None when no config folder has it."""
    for d in config_dirs(site):
        path = rules_path(site.rules, d)
        if path.exists():
            return path
    return None


def rules_for_site(site) -> Rules:
    return load_rules(find_rules(site) or site.rules, config_dirs(site)[0])
