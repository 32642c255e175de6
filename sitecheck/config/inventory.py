"""The site registry: site files in <config-dir>/sites/, and an inventory of many small sites.

A province keeps hundreds of sites, most of them one portal each.  Besides one site file per
site, the config folder may hold one inventory, `inventory.csv` or `inventory.yaml`, with one
row per site:

    site,name,homepage,site_code,contact
    gxt,甘肃省工业和信息化厅,https://gxt.gansu.gov.cn/,6200000035,办公室 0931-0000000

The YAML form is a list under `sites:` with the same keys, and may carry `defaults:`, any
site-file keys (crawl, checks, schedule, ...) that every row gets.  A row becomes a site with
one host, the portal, validated by the same table as a site file (sitecheck.config.sitefile);
an error names the inventory, the row's line and the column (or `defaults.<key>`).  A site key
may be given once across the site files and the inventory.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import yaml

from .locate import bundled_config_dir, site_files
from .sitefile import SiteConfig, load_site, site_from_node
from .validate import ConfigError, compose

INVENTORY_FILES = ("inventory.csv", "inventory.yaml")
COLUMNS = ("site", "name", "homepage", "site_code", "contact")
REQUIRED = ("site", "name", "homepage")
_RESERVED_DEFAULTS = ("site", "name", "hosts", "contact")  # a row's own
_STR = "tag:yaml.org,2002:str"

# Where each column lands in the site built from a row, and back (for error messages).
_COLUMN_OF_KEY = {"site": "site", "name": "name", "contact": "contact", "hosts": "homepage",
                  "hosts[0].url": "homepage", "hosts[0].site_code": "site_code", "hosts[0].name": "name"}


def inventory_path(config_dir: Path) -> Path | None:
    """The config folder's inventory, or None; both forms at once is an error."""
    found = [Path(config_dir) / name for name in INVENTORY_FILES if (Path(config_dir) / name).is_file()]
    if len(found) > 1:
        raise ConfigError(found[1], None, "", f"a second inventory beside {found[0].name}",
                          "keep the sites in one inventory file")
    return found[0] if found else None


def load_inventory(path: Path) -> tuple[list[SiteConfig], list[tuple[str, ConfigError]]]:
    """Every valid row as a site, and (the row's site key, its error) for every row that is not:
    all rows are read, so that `check-config` can list every bad one."""
    path = Path(path)
    rows, defaults = _csv_rows(path) if path.suffix == ".csv" else _yaml_rows(path)
    sites: list[SiteConfig] = []
    errors: list[tuple[str, ConfigError]] = []
    seen: dict[str, int] = {}
    for label, line, cells in rows:
        key = str(cells["site"].value) if "site" in cells else ""
        try:
            site = _row_site(path, label, line, cells, defaults)
        except ConfigError as exc:
            if not any(str(exc) == str(known) for _k, known in errors):  # a bad default fails every row alike
                errors.append((key, exc))
            continue
        if site.key in seen:
            errors.append((key, ConfigError(path, line, f"{label}site", f"duplicate site key {site.key!r} "
                                            f"(also on line {seen[site.key]})", "each site needs its own key")))
            continue
        seen[site.key] = line
        sites.append(site)
    return sites, errors


def _row_site(path: Path, label: str, line: int, cells: dict[str, yaml.Node],
              defaults: yaml.MappingNode | None) -> SiteConfig:
    host = [(_scalar("key", line), _scalar("portal", line))]
    host.append((_scalar("name", line), cells["name"]) if "name" in cells else (_scalar("name", line), None))
    if "homepage" in cells:
        host.append((_scalar("url", line), cells["homepage"]))
    if "site_code" in cells:
        host.append((_scalar("site_code", line), cells["site_code"]))
    pairs = [(_scalar(k, line), cells[k]) for k in ("site", "name", "contact") if k in cells]
    pairs.append((_scalar("hosts", line), yaml.SequenceNode("tag:yaml.org,2002:seq", [
        yaml.MappingNode("tag:yaml.org,2002:map", [(k, v) for k, v in host if v is not None],
                         start_mark=_mark(line))], start_mark=_mark(line))))
    pairs += list(defaults.value) if defaults is not None else []
    node = yaml.MappingNode("tag:yaml.org,2002:map", pairs, start_mark=_mark(line))
    digest = hashlib.sha256(repr([(k, getattr(v, "value", "")) for k, v in sorted(cells.items())]).encode()
                            + (yaml.serialize(defaults).encode() if defaults is not None else b"")).hexdigest()[:16]
    key = cells["site"].value if "site" in cells else None
    try:
        return site_from_node(node, path, digest, entry=key)
    except ConfigError as exc:
        column = _COLUMN_OF_KEY.get(exc.key) or (f"defaults.{exc.key}" if exc.key else "")
        if exc.key in _COLUMN_OF_KEY:
            column = f"{label}{column}"
        raise ConfigError(path, exc.line, column, exc.message, exc.hint) from None


def _csv_rows(path: Path) -> tuple[list[tuple[str, int, dict[str, yaml.Node]]], None]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ConfigError(path, None, "", f"cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, None, "", "file is not valid UTF-8",
                          "save the inventory as UTF-8 (spreadsheets offer 'CSV UTF-8')") from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    for column in header:
        if column not in COLUMNS:
            raise ConfigError(path, 1, column, "unknown column", "valid columns: " + ", ".join(COLUMNS))
    for column in REQUIRED:
        if column not in header:
            raise ConfigError(path, 1, column, "missing required column", "the first line names the columns: "
                              + ",".join(COLUMNS))
    rows = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            raise ConfigError(path, line, "", f"{len(values)} cells, but {len(header)} columns",
                              "quote a cell that contains a comma")
        cells = {col: _scalar(v.strip(), line) for col, v in zip(header, values) if v.strip()}
        rows.append(("", line, cells))
    return rows, None


def _yaml_rows(path: Path) -> tuple[list[tuple[str, int, dict[str, yaml.Node]]], yaml.MappingNode | None]:
    root = compose(path)
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(path, None, "", "expected a mapping with 'sites:' (and optionally 'defaults:')")
    top = {k.value: (k, v) for k, v in root.value}
    for name, (knode, _v) in top.items():
        if name not in ("sites", "defaults"):
            raise ConfigError(path, knode.start_mark.line + 1, name, "unknown key", "valid keys: sites, defaults")
    defaults = top.get("defaults", (None, None))[1]
    if defaults is not None:
        if not isinstance(defaults, yaml.MappingNode):
            raise ConfigError(path, defaults.start_mark.line + 1, "defaults", "expected a mapping of site-file keys")
        for knode, _v in defaults.value:
            if knode.value in _RESERVED_DEFAULTS:
                raise ConfigError(path, knode.start_mark.line + 1, f"defaults.{knode.value}",
                                  "each site gives its own", "set it on the site's row")
    listing = top.get("sites", (None, None))[1]
    if not isinstance(listing, yaml.SequenceNode):
        raise ConfigError(path, None if listing is None else listing.start_mark.line + 1, "sites",
                          "expected a list of sites", "- {site: gxt, name: …, homepage: https://…}")
    rows = []
    for i, item in enumerate(listing.value):
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            raise ConfigError(path, line, f"sites[{i}]", "expected a mapping: site, name, homepage, …")
        cells = {}
        for knode, vnode in item.value:
            if knode.value not in COLUMNS:
                raise ConfigError(path, knode.start_mark.line + 1, f"sites[{i}].{knode.value}", "unknown key",
                                  "valid keys: " + ", ".join(COLUMNS))
            cells[knode.value] = vnode
        for column in REQUIRED:
            if column not in cells:
                raise ConfigError(path, line, f"sites[{i}].{column}", "missing required key")
        rows.append((f"sites[{i}].", line, cells))
    return rows, defaults


def _mark(line: int) -> yaml.Mark:
    return yaml.Mark("", 0, line - 1, 0, None, None)


def _scalar(value: str, line: int) -> yaml.ScalarNode:
    return yaml.ScalarNode(_STR, value, start_mark=_mark(line), end_mark=_mark(line))


# --- the registry: site files and inventory together ------------------------------------------------


def registry_sites(config_dir: Path) -> list[SiteConfig]:
    """Every site of the config folder: its site files, then its inventory's rows.  The first error
    is raised (`sitecheck check-config` lists them all); a key given twice is an error."""
    sites = [load_site(p) for p in site_files(config_dir)]
    inventory = inventory_path(config_dir)
    if inventory is not None:
        rows, errors = load_inventory(inventory)
        if errors:
            raise errors[0][1]
        sites += rows
    check_unique(sites)
    return sites


def check_unique(sites: list[SiteConfig]) -> None:
    seen: dict[str, SiteConfig] = {}
    for site in sites:
        if site.key in seen:
            raise ConfigError(site.path, None, "site", f"duplicate site key {site.key!r} (also in "
                              f"{seen[site.key].path})", "each site needs its own key")
        seen[site.key] = site


def find_site(key: str, config_dir: Path) -> SiteConfig:
    """<config-dir>/sites/<key>.yaml, else the inventory's row of that key, else the bundled site file."""
    path = Path(config_dir) / "sites" / f"{key}.yaml"
    if path.exists():
        return load_site(path)
    inventory = inventory_path(config_dir)
    rows: list[SiteConfig] = []
    if inventory is not None:
        rows, errors = load_inventory(inventory)
        for site in rows:
            if site.key == key:
                return site
        for row_key, error in errors:
            if row_key == key:
                raise error
    bundled = bundled_config_dir() / "sites" / f"{key}.yaml"
    if bundled.exists():
        return load_site(bundled)
    known = sorted({p.stem for d in (Path(config_dir), bundled_config_dir()) for p in site_files(d)}
                   | {s.key for s in rows})
    raise ConfigError(path, None, "", f"no site file for site {key!r}",
                      "known sites: " + (", ".join(known) or "none")
                      + "; write one with 'sitecheck init', or pass --config PATH")

