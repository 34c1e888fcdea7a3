import re

from snakemake.utils import validate

from osteotrial.config import load_config
from osteotrial.io import ENDPOINT_TABLES
from osteotrial.report import REPORT_FILES

# Merge config/model.yaml, config/trials/{trial}.yaml and the --config overrides, validate them
# with config/config.schema.json and the checks of osteotrial.config; an invalid configuration
# stops here, before any job, with a message naming the field, the value and what is allowed.
TRIAL = load_config(config["trial"], overrides=config)
config.update(TRIAL.raw)
validate(config, schema="../../config/config.schema.json")

ARMS = TRIAL.arm_names
SHARDS = TRIAL.shards
CONDA_ENV = "../envs/osteotrial.yaml"


wildcard_constraints:
    trial=re.escape(TRIAL.name),
    arm="|".join(re.escape(arm) for arm in ARMS),
    shard=r"s\d{3}",


def final_outputs():
    """Return the endpoint tables and the report folder of the configured trial."""
    return expand(
        "results/{trial}/endpoints/{table}.parquet", trial=TRIAL.name, table=ENDPOINT_TABLES
    ) + expand("results/{trial}/report/{file}", trial=TRIAL.name, file=REPORT_FILES)
