"""The one-command pipeline and its configuration."""

from socialvalue.pipeline.config import RunConfig, load_run_config
from socialvalue.pipeline.run import STAGES, RunResult, run_pipeline

__all__ = ["STAGES", "RunConfig", "RunResult", "load_run_config", "run_pipeline"]
