"""Issue 12: every key of the run configuration is used by the run, or it does not exist."""

from __future__ import annotations

import re
from pathlib import Path

import socialvalue.pipeline as pipeline
from socialvalue.pipeline import RunConfig

_SRC = Path(pipeline.__file__).parent
_PKG = _SRC.parent
#: Sections the run hands on whole to the module that reads them (their keys are read there as ``cfg.<key>``):
#: [experiment] goes to the hold-out (exports) and the measurement (experiments), both reading
#: decisions/experiment.py's ExperimentConfig.
_HANDED_ON = {
    "experiment": ("decisions/experiment.py", "experiments.py", "exports.py", "pipeline/measured.py"),
}


def test_every_configuration_key_is_read_by_the_pipeline():
    code = "\n".join(p.read_text() for p in _SRC.glob("*.py") if p.name != "config.py")
    unused = []
    for section, field in RunConfig.model_fields.items():
        model = field.annotation
        aliases = {section}
        # sections are read as cfg.<section>.<key>, or through a local alias such as `m = cfg.models`
        aliases |= set(re.findall(rf"(\w+) = cfg\.{section}\b", code))
        readers = code
        if section in _HANDED_ON:
            readers = "\n".join((_PKG / f).read_text() for f in _HANDED_ON[section])
            aliases |= {"cfg", "exp", "config", "holdout.config"}
        for key in model.model_fields:
            pattern = "|".join(rf"\b{re.escape(a)}\.{key}\b" for a in aliases)
            if not re.search(pattern, readers):
                unused.append(f"[{section}] {key}")
    assert unused == []


def test_every_key_is_documented():
    for section, field in RunConfig.model_fields.items():
        for key, f in field.annotation.model_fields.items():
            assert f.description, f"[{section}] {key} has no description"
