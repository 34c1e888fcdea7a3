"""The quick-look figure of ``osteotrial simulate --plot``: labelled axes, FN, hip, intervals."""

from __future__ import annotations

import matplotlib.pyplot as plt
from test_vocabulary import four_patients

from osteotrial import api
from osteotrial.report.figures_regimen import regimen_figure
from osteotrial.trial.regimen_text import parse_regimen
from osteotrial.trial.schedules import ArmSpec


def test_figure_labels_its_axes_curves_bands_and_shading():
    result, cohort = four_patients()
    summary = api.summarize(api.regimen_table(result, cohort, "deno"))
    arm = ArmSpec("deno", parse_regimen("denosumab 60 mg every 6 months for 12 months"))
    fig = regimen_figure(summary, {"deno": arm})
    try:
        axes = fig.axes
        assert all(ax.get_ylabel() and ax.get_xlabel() for ax in axes)
        curves = {t.get_text() for ax in axes for t in ax.get_legend().get_texts()}
        assert {"LS", "TH", "FN", "new vert", "nonvert incl hip", "hip"} <= curves
        below = {t.get_text() for t in fig.legends[0].get_texts()}
        assert {"denosumab period (shaded)", "95 % CI (band)", "deno"} <= below
        bmd, _, fractures = axes
        assert len(bmd.collections) == 3 and len(fractures.collections) == 3  # one band a curve
    finally:
        plt.close(fig)
