"""The one-command pipeline and its configuration; scoring a new date with a run's stored models."""

from socialvalue.pipeline.config import RunConfig, load_run_config
from socialvalue.pipeline.run import STAGES, RunResult, run_pipeline
from socialvalue.pipeline.score import score_with_models

__all__ = ["STAGES", "RunConfig", "RunResult", "load_run_config", "run_pipeline", "score_with_models"]
